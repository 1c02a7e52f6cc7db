// The call history: its filters (the API's own), pages by cursor, the CSV of the same
// selection, a call's recording, and the way to comment a call after it ended.
import { fmt, t, tn } from "/assets/i18n/i18n.js";
import { enc, get, query } from "./api.js";
import { CALLER_TYPES, errorText } from "./comment.js";
import { data, h, replace } from "./dom.js";

const OUTCOMES = {
  answered: () => t("answered"),
  missed: () => t("missed"),
  abandoned: () => t("caller hung up"),
  closed: () => t("closed hours"),
  failed: () => t("failed"),
  interrupted: () => t("interrupted"),
};
const PAGE = 50;

export class History {
  constructor({ root, me, topics, names, onComment }) {
    Object.assign(this, { root, me, names, onComment });
    this.topics = Object.fromEntries(topics.map((tp) => [tp.id, tp.name]));
    this.form = root.querySelector("form");
    this.body = root.querySelector("tbody");
    this.more = root.querySelector("[data-testid=history-more]");
    this.csv = root.querySelector("[data-testid=history-csv]");
    this.status = root.querySelector("[data-testid=history-status]");
    this.player = root.querySelector("[data-testid=recording]");
    this.cursor = null;
    const f = this.form.elements;
    options(f.outcome, Object.entries(OUTCOMES).map(([v, l]) => [v, l()]));
    options(f.caller_type, [...Object.entries(CALLER_TYPES).map(([v, l]) => [v, l()]), ["unknown", t("not known")]]);
    options(f.topic, [["unknown", t("Unknown")], ...topics.map((tp) => [tp.id, tp.name])], true);
    options(f.branch, Object.entries(names.branches), true);
    options(f.admin, Object.entries(names.admins), true);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.load(false);
    });
    this.form.addEventListener("reset", () => setTimeout(() => this.load(false)));
    this.more.addEventListener("click", () => this.load(true));
  }

  filters() {
    const f = this.form.elements;
    const instant = (v, days) => {
      if (!v) return "";
      const d = new Date(`${v}T00:00`);
      d.setDate(d.getDate() + days);
      return d.toISOString();
    };
    return {
      from: instant(f.from.value, 0),
      until: instant(f.until.value, 1), // the last day picked is included
      outcome: f.outcome.value,
      caller_type: f.caller_type.value,
      topic: f.topic.value,
      branch: f.branch.value,
      admin: f.admin.value,
      number_suffix: f.number_suffix.value.replace(/\D/g, ""),
      include_staff: f.include_staff.checked ? "true" : "",
    };
  }

  async load(more) {
    const filters = this.filters();
    this.csv.href = `/api/calls/export.csv${query(filters)}`;
    this.status.textContent = t("Loading…");
    let page;
    try {
      page = await get(`/api/calls${query({ ...filters, limit: PAGE, cursor: more ? this.cursor : "" })}`);
    } catch (e) {
      this.status.textContent = errorText(e);
      return;
    }
    this.cursor = page.next_cursor;
    const rows = page.calls.map((c) => this.rowEl(c));
    if (more) this.body.append(...rows);
    else replace(this.body, rows);
    this.more.hidden = !this.cursor;
    const shown = this.body.querySelectorAll("tr").length;
    this.status.textContent = shown
      ? tn("{n} call shown", "{n} calls shown", shown, { n: fmt.number(shown) })
      : t("No calls match these filters.");
  }

  rowEl(c) {
    const note = c.comment;
    const saved = (c.recordings || []).some((r) => r.status === "saved");
    return h("tr", { dataset: { testid: "history-row", callId: c.id } },
      h("td", { className: "time" }, data(fmt.dateTime(c.started_at), "time")),
      h("td", { className: "number" }, data(c.caller_number)),
      h("td", {}, data(c.caller_name || ""), c.branch ? h("small", { className: "muted" }, c.caller_name ? " · " : "", data(this.names.branches[c.branch] || c.branch)) : null),
      h("td", {}, data(c.admin ? this.names.admins[c.admin] || c.admin : "")),
      h("td", {}, c.outcome === null ? t("in progress") : OUTCOMES[c.outcome] ? OUTCOMES[c.outcome]() : data(c.outcome), c.talk_seconds ? h("small", { className: "muted" }, " ", data(fmt.duration(c.talk_seconds))) : null),
      h("td", {}, CALLER_TYPES[c.caller_type] ? CALLER_TYPES[c.caller_type]() : t("not known"),
        c.report_topic && c.report_topic !== "unknown" ? [" · ", data(this.topics[c.report_topic] || c.report_topic)] : null),
      h("td", { className: "note" }, note ? data(note.text) : h("span", { className: "muted" }, t("no comment"))),
      h("td", { className: "actions" },
        h("button", { type: "button", dataset: { testid: "history-comment" }, on: { click: () => this.onComment(c) } }, note ? t("Edit comment") : t("Comment")),
        saved ? h("button", { type: "button", dataset: { testid: "history-listen" }, on: { click: () => this.listen(c) } }, t("Listen")) : null));
  }

  listen(c) {
    this.player.hidden = false;
    const audio = this.player.querySelector("audio");
    replace(this.player.querySelector("[data-testid=recording-title]"), t("Recording of the call from {number} at {time}", { number: c.caller_number, time: fmt.dateTime(c.started_at) }));
    audio.src = `/api/calls/${enc(c.id)}/recording`;
    audio.play().catch(() => {}); // a browser that refuses autoplay leaves the controls to the admin
    audio.focus();
  }
}

function options(select, pairs, withData = false) {
  const items = pairs.map(([value, label]) => {
    const o = h("option", { value }, label);
    if (withData) o.setAttribute("data-no-translate", "");
    return o;
  });
  select.append(...items);
}
