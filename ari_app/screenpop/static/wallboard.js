// The wallboard: the branch's frame as the server pushes it over /wallboard/ws (at most once a
// second, whole), drawn in place; the waiting callers' and the admins' timers tick here, every
// second, from the server's clock. The socket comes back by itself, with backoff, and says so.
import { page, t, fmt } from "/assets/i18n/i18n.js";

const STATES = {
  available: t("Available"),
  ringing: t("Ringing"),
  on_call: t("On a call"),
  wrap_up: t("Wrap-up"),
  paused: t("Paused"),
  offline: t("Offline"),
};
const HEARTBEAT_MS = 60_000; // a visible board keeps its session alive
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

const $ = (id) => document.getElementById(id);
let frame = page.frame;
let skew = frame ? Date.parse(frame.now) - Date.now() : 0; // server clock minus ours
let failures = 0;

const serverNow = () => Date.now() + skew;
const secondsSince = (iso) => Math.max(0, (serverNow() - Date.parse(iso)) / 1000);

function setLink(state) {
  const link = $("link");
  link.dataset.state = state;
  link.textContent = {
    connecting: t("Connecting…"),
    live: t("Live"),
    reconnecting: t("Connection lost: reconnecting…"),
  }[state];
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawFigures(f) {
  const c = f.counts;
  $("answered").textContent = fmt.number(c.answered);
  $("missed").textContent = fmt.number(c.missed);
  $("abandoned").textContent = fmt.number(c.abandoned);
  $("closed").textContent = fmt.number(c.closed);
  $("waiting-count").textContent = fmt.number(f.waiting.length);
  const seconds = fmt.number(f.service_level_seconds);
  $("service-level").textContent = f.service_level === null ? "–" : fmt.percent(f.service_level);
  $("level-note").textContent = f.service_level === null
    ? t("No call answered yet today")
    : t("{n} of {total} answered within {seconds} s",
      { n: fmt.number(c.answered_within), total: fmt.number(c.answered), seconds });
  $("level-box").dataset.grade = f.service_level === null ? "none" : f.service_level >= 0.8 ? "good" : "bad";
  $("answer-speed").textContent = f.average_answer_seconds === null
    ? "" : t("average answer {time}", { time: fmt.duration(f.average_answer_seconds) });
  $("day").textContent = `${fmt.date(f.day.start)} · ${f.branch.timezone}`;
}

function drawWaiting(f) {
  const list = $("waiting");
  list.replaceChildren(...f.waiting.map((w, i) => {
    const item = el("li", w.ringing ? "ringing" : "held");
    const place = el("span", "place", fmt.number(i + 1));
    const timer = el("span", "timer", "");
    timer.dataset.since = w.since;
    for (const value of [place, timer]) value.setAttribute("data-no-translate", "");
    item.append(place, el("span", "how", w.ringing ? t("Ringing an admin") : t("On hold")), timer);
    return item;
  }));
  $("nobody").hidden = f.waiting.length > 0;
}

function drawAdmins(f) {
  $("admins").replaceChildren(...f.admins.map((a) => {
    const item = el("li", `admin state-${a.state}`);
    const name = el("span", "name", a.name);
    name.setAttribute("data-no-translate", "");
    const state = el("span", "state", STATES[a.state] ?? a.state);
    item.append(name, state);
    if (a.reason) {
      const reason = el("span", "reason", a.reason);
      reason.setAttribute("data-no-translate", "");
      item.append(reason);
    }
    if (a.since) {
      const timer = el("span", "timer", "");
      timer.dataset.since = a.since;
      timer.setAttribute("data-no-translate", "");
      item.append(timer);
    }
    return item;
  }));
}

function tick() {
  $("clock").textContent = fmt.time(new Date(serverNow()).toISOString());
  let longest = 0;
  for (const timer of document.querySelectorAll(".timer[data-since]")) {
    const seconds = secondsSince(timer.dataset.since);
    timer.textContent = fmt.duration(seconds);
    if (timer.closest("#waiting")) longest = Math.max(longest, seconds);
  }
  $("longest").textContent = frame && frame.waiting.length
    ? t("longest {time}", { time: fmt.duration(longest) }) : "";
}

function draw(f) {
  frame = f;
  skew = Date.parse(f.now) - Date.now();
  drawFigures(f);
  drawWaiting(f);
  drawAdmins(f);
  tick();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/wallboard/ws?branch=${encodeURIComponent(page.branch)}`);
  let beat = null;
  socket.addEventListener("open", () => {
    failures = 0;
    setLink("live");
    beat = setInterval(() => {
      socket.send(JSON.stringify({ type: "heartbeat", visible: document.visibilityState === "visible" }));
    }, HEARTBEAT_MS);
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "wallboard") draw(message);
  });
  socket.addEventListener("close", async () => {
    clearInterval(beat);
    setLink("reconnecting");
    const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
    failures += 1;
    // A session that ended cannot reconnect: sign in again, then come back here.
    const session = await fetch("/auth/session", { credentials: "same-origin" }).catch(() => null);
    if (session && session.status === 401) {
      location.assign("/login");
      return;
    }
    setTimeout(connect, delay * (0.8 + Math.random() * 0.4));
  });
}

if (frame) draw(frame);
setInterval(tick, 1000);
connect();
