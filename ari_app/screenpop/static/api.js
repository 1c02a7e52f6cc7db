// The console's calls to the app's API: same-origin, session cookie, the CSRF token on changes.
// A refusal becomes an ApiError carrying the API's own id and detail ({"error", "detail"}).

let csrf = "";

export class ApiError extends Error {
  constructor(status, id, detail) {
    super(detail || id || `HTTP ${status}`);
    this.status = status;
    this.id = id || "";
  }
  /** The endpoint is not on this server (yet): the feature is shown as unavailable. */
  get missing() {
    return this.status === 404 && (this.id === "not_found" || this.id === "");
  }
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status === 401) {
    signIn();
    throw new ApiError(401, "unauthenticated", "");
  }
  const text = await answer.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!answer.ok) {
    const detail = json && (json.detail || (json.errors && JSON.stringify(json.errors)));
    throw new ApiError(answer.status, json && json.error, detail);
  }
  return json;
}

/** Back to the sign-in page, and here again after it. */
export function signIn() {
  const back = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(back)}`);
}

export async function session() {
  const who = await call("GET", "/auth/session");
  csrf = who.csrf_token;
  return who;
}

export const get = (path) => call("GET", path);
export const put = (path, body) => call("PUT", path, body);
export const post = (path, body) => call("POST", path, body);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
