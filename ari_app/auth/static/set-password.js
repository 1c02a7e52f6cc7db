// The link carries the one-time code in its fragment (#code=...), which browsers never send to a
// server: it is read here, put in the form, and removed from the address bar and the history.
import { t } from "/assets/i18n/i18n.js";

// What the server's refusals (their stable "error" ids) mean to the person at the form.
const REFUSALS = {
  bad_code: () => t("This link is unknown, used or expired: ask a manager for a new one."),
  weak_password: () => t("This password is too short, too common or too close to your login: choose another."),
};

const params = new URLSearchParams(window.location.hash.slice(1));
const code = params.get("code");
if (code) {
  document.getElementById("code").value = code;
  history.replaceState(null, "", window.location.pathname);
}
const form = document.getElementById("set-password");
const result = document.getElementById("result");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { code: form.code.value, password: form.password.value };
  let answer;
  try {
    answer = await fetch("/set-password", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    result.textContent = t("The server could not be reached: check the connection and try again.");
    return;
  }
  if (answer.ok) {
    result.textContent = t("Password set. You can sign in now.");
    window.location.assign("/login");
    return;
  }
  const said = await answer.json().catch(() => ({}));
  const refusal = REFUSALS[said.error];
  result.textContent = refusal ? refusal() : t("The password could not be set.");
});
