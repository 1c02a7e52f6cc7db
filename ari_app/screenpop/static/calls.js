// The table of calls in progress and the pop. The pop's slot keeps its height whether a call
// pops or not, so nothing on the page moves under the admin's mouse when the phone rings.
import { fmt, t } from "/assets/i18n/i18n.js";
import { callerLine } from "./card.js";
import { data, h, replace } from "./dom.js";

const PHASES = {
  ringing: () => t("Incoming call: your phone is about to ring"),
  queued: (r) => t("Waiting in the queue: place {n}", { n: fmt.number(r.queue_position) }),
  waiting: () => t("Waiting for an admin"),
  yours: () => t("You are on this call"),
  taken: (r) => t("Taken by {name}", { name: r.taken_by_name || r.taken_by }),
  gave_up: () => t("The caller hung up before anyone answered"),
  ended: () => t("The call has ended"),
};

// The same, short, for a table cell.
const SHORT = {
  ringing: () => t("Ringing you"),
  queued: (r) => t("In the queue: {n}", { n: fmt.number(r.queue_position) }),
  waiting: () => t("Ringing"),
  yours: () => t("You took it"),
  taken: (r) => t("Taken: {name}", { name: r.taken_by_name || r.taken_by }),
  gave_up: () => t("Hung up"),
  ended: () => t("Ended"),
};

export function phaseText(board, row) {
  return PHASES[board.phase(row)](row);
}

export class CallsView {
  constructor({ table, slot, live, names, board, onPick }) {
    Object.assign(this, { table, slot, live, names, board, onPick });
    this.body = table.tBodies[0];
    this.shownAt = null;
    table.addEventListener("keydown", (e) => this.key(e));
  }

  /** The rows; ``selected``: the call the admin is on. */
  render(selected) {
    const rows = this.board.rows();
    const items = rows.map((r, i) => this.rowEl(r, i, r.call_id === selected));
    if (!items.length) items.push(h("tr", { className: "empty" }, h("td", { colSpan: 5 }, t("No calls right now."))));
    replace(this.body, items);
  }

  rowEl(r, i, selected) {
    const phase = this.board.phase(r);
    const tr = h("tr", {
      className: `call ${phase}${selected ? " selected" : ""}`,
      tabIndex: selected || (i === 0 && !this.body.querySelector(".selected")) ? 0 : -1,
      dataset: { testid: "call-row", callId: r.call_id, phase },
      attrs: { "aria-selected": String(selected) },
      on: { click: () => this.onPick(r.call_id), keydown: (e) => e.key === "Enter" && this.onPick(r.call_id) },
    },
      h("td", { className: "key" }, i < 9 ? h("kbd", { title: t("Alt+{n} picks this call", { n: i + 1 }) }, String(i + 1)) : ""),
      h("td", { className: "time" }, data(fmt.time(r.started_at), "time")),
      h("td", { className: "number" }, numberEl(r.number)),
      h("td", {}, callerLine(r.caller), this.names.branches[r.branch] ? h("small", { className: "muted" }, " · ", data(this.names.branches[r.branch])) : null),
      h("td", { className: "status" }, statusEl(this.board, r)));
    return tr;
  }

  key(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const rows = [...this.body.querySelectorAll("tr.call")];
    const at = rows.indexOf(document.activeElement);
    const next = rows[Math.max(0, Math.min(rows.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)))];
    if (next) {
      e.preventDefault();
      rows.forEach((r) => (r.tabIndex = -1));
      next.tabIndex = 0;
      next.focus();
    }
  }

  /** The pop: drawn when ``change`` says so; ``data-shown-at`` marks when it became visible. */
  pop(change, onPick) {
    const id = this.board.popId;
    if (!id) {
      if (this.slot.firstChild) replace(this.slot, idle());
      this.shownAt = null;
      return;
    }
    const r = this.board.row(id);
    const first = change === "shown" || this.shownAt === null || this.slot.firstChild?.dataset.callId !== id;
    if (first) this.shownAt = Date.now();
    const phase = this.board.phase(r);
    const el = h("section", {
      className: `pop ${phase}`,
      dataset: { testid: "pop", callId: id, phase, shownAt: String(this.shownAt) },
      attrs: { "aria-labelledby": "pop-title" },
    },
      h("div", { className: "pop-main" },
        h("p", { className: "pop-phase", id: "pop-title", dataset: { testid: "pop-phase" } }, phase === "taken" ? t("A colleague answered this call") : phaseText(this.board, r)),
        h("p", { className: "pop-number" }, numberEl(r.number), " ", h("span", { className: "pop-caller", dataset: { testid: "pop-caller" } }, callerLine(r.caller))),
        h("p", { className: "pop-meta" },
          h("span", {}, t("at {time}", { time: fmt.time(r.started_at) })),
          r.branch ? h("span", {}, t("branch"), " ", data(this.names.branches[r.branch] || r.branch)) : null,
          r.ad_channel ? h("span", { className: "badge ad", dataset: { testid: "pop-ad-channel" } }, t("ad:"), " ", data(r.ad_channel)) : null),
        phase === "taken" ? h("p", { className: "pop-taken", dataset: { testid: "taken-by" } }, t("Taken by {name}", { name: r.taken_by_name || r.taken_by })) : null),
      h("div", { className: "pop-side" }, summary(r), h("button", { type: "button", className: "primary", on: { click: () => onPick(id) } }, t("Open the card"))));
    const focused = this.slot.contains(document.activeElement);
    replace(this.slot, el);
    if (focused) el.querySelector("button").focus(); // a keyboard user keeps their place
    if (first) this.announce(r);
    else if (phase !== this.phase) this.live.textContent = phaseText(this.board, r);
    this.phase = phase;
  }

  /** What a screen reader says when a call pops; then each change of what the pop says. */
  announce(r) {
    const who = r.caller.name || (r.caller.kind === "unknown" ? t("new caller") : "");
    this.live.textContent = t("Incoming call from {number} {who}", { number: r.number, who });
  }
}

function idle() {
  return h("p", { className: "pop-idle" }, t("No call is ringing for you. When one is offered to you, it shows here before your phone rings."));
}

function numberEl(number) {
  const digits = String(number || "");
  // The last digits are how admins tell simultaneous calls apart: they stand out.
  const tail = digits.slice(-4);
  return h("span", { className: "phone", attrs: { "data-no-translate": "" } }, digits.slice(0, -4), h("strong", {}, tail));
}

function statusEl(board, r) {
  const phase = board.phase(r);
  // "taken-by" is the pop's alone (one on the page); a row says it in its status.
  const dataset = { testid: "call-status", phase, takenBy: r.taken_by || "" };
  return h("span", { className: `status-${phase}`, title: PHASES[phase](r), dataset }, SHORT[phase](r));
}

function summary(r) {
  const c = r.caller;
  if (c.card_state !== "ready" || !c.card) return null;
  const card = c.card;
  return h("dl", { className: "pop-summary" },
    card.age !== null ? [h("dt", {}, t("Age")), h("dd", {}, data(fmt.number(card.age)))] : null,
    card.debt ? [h("dt", {}, t("Debt")), h("dd", { className: "bad" }, data(fmt.money(card.debt)))] : null,
    card.future_appointments?.length ? [h("dt", {}, t("Next visit")), h("dd", {}, data(fmt.dateTime(card.future_appointments[0].at)))] : null);
}
