// The console page: wires the live calls, the pop, the card, the comment, presence and history.
import { page, t } from "/assets/i18n/i18n.js";
import { ApiError, enc, get, session, signIn } from "./api.js";
import { Board } from "./board.js";
import { CallsView } from "./calls.js";
import { callerCard, patientCard } from "./card.js";
import { CommentForm, errorText } from "./comment.js";
import { byId, byTestId, data, h, replace } from "./dom.js";
import { History } from "./history.js";
import { Presence } from "./presence.js";
import { NoLink, openScheduler } from "./scheduler.js";
import { LiveSocket } from "./socket.js";

const TICK_MS = 1000;

class ConsolePage {
  constructor(me, page) {
    this.me = me;
    this.names = { branches: page.branches || {}, admins: page.admins || {} };
    this.selected = null; // the live call the admin is on (its id)
    this.historyCall = null; // a past call being commented
    this.picked = null; // a patient card picked by search (replaces the caller's)
    this.board = new Board(me);
    this.card = byTestId("card");
    this.calls = new CallsView({
      table: byTestId("calls-table"), slot: byId("pop-slot"), live: byId("announce"),
      names: this.names, board: this.board, onPick: (id) => this.select(id),
    });
    this.comment = new CommentForm({
      form: byTestId("comment-form"), me, topics: page.topics || [], status: byTestId("comment-status"),
      onPatient: (p) => this.pickPatient(p),
      onBook: (callId, patient) => this.scheduler(callId, patient, "book"),
      onSaved: () => this.history.load(false),
    });
    this.history = new History({
      root: byTestId("history"), me, topics: page.topics || [], names: this.names,
      onComment: (c) => this.commentPast(c),
    });
    if (me.admin_login) {
      this.presence = new Presence({ root: byTestId("presence"), login: me.admin_login });
      this.presence.read();
    } else {
      // A manager is offered no calls: no presence, no pop; the table shows every call.
      byTestId("presence").hidden = true;
      byId("pop-slot").hidden = true;
    }
    this.socket = new LiveSocket({
      onSnapshot: (rows) => this.changed(this.board.snapshot(rows, Date.now()), true),
      onDelta: (m) => this.changed(this.board.delta(m, Date.now()), m.call.call_id === this.selected),
      onState: (s) => this.connection(s),
      onSignedOut: signIn,
      onLost: () => session().catch(() => {}), // a 401 there goes to the sign-in page
    });
    document.addEventListener("keydown", (e) => this.key(e));
    setInterval(() => this.changed(this.board.tick(Date.now()), false), TICK_MS);
    this.socket.open();
    this.history.load(false);
  }

  /** After the board changed: the table always; the pop as ``popChange`` says; the card if it is the selected call's. */
  changed(popChange, selectedChanged) {
    if (popChange === "shown" && this.shouldFollow()) this.select(this.board.popId, false);
    else if (selectedChanged) {
      this.lateCaller();
      this.showCard();
    }
    this.calls.render(this.selected);
    if (popChange) this.calls.pop(popChange, (id) => this.select(id));
    // The pop is drawn: the server holds this admin's phone until it hears so (ring_gate.py).
    if (popChange === "shown" && this.board.popId) this.socket.send({ type: "shown", call_id: this.board.popId });
  }

  /** A new pop takes over the card unless the admin is talking on another call. */
  shouldFollow() {
    const cur = this.selected && this.board.row(this.selected);
    if (this.comment.dirty) return false; // a comment being written is not thrown away
    return !cur || cur.outcome !== null || cur.taken_by !== this.me.admin_login || !this.me.admin_login;
  }

  select(callId, focus = true) {
    const row = this.board.row(callId);
    if (!row) return;
    this.selected = callId;
    this.historyCall = null;
    this.picked = null;
    const card = row.caller.card;
    this.comment.open(callId, {
      callerKind: row.caller.kind, author: row.taken_by, number: row.number, cards: row.caller.cards,
      patient: card ? { external_id: card.external_id, name: card.name } : null,
    });
    this.showCard();
    this.calls.render(this.selected);
    if (focus) byTestId("comment-caller-type").focus();
  }

  /** The caller identified after the call was picked: their card becomes the comment's patient. */
  lateCaller() {
    const row = this.board.row(this.selected);
    const card = row && row.caller.card;
    if (!card || this.comment.patient || this.comment.dirty || this.comment.callId !== row.call_id) return;
    this.comment.pick({ external_id: card.external_id, name: card.name }, false);
  }

  commentPast(c) {
    this.selected = null;
    this.historyCall = c;
    this.picked = null;
    const patient = c.comment && c.comment.patient_external_id ? { external_id: c.comment.patient_external_id, name: "" } : null;
    this.comment.open(c.id, { callerKind: c.caller_kind, patient, author: c.admin });
    if (patient) this.pickPatient(patient);
    else replace(this.card, h("p", { className: "card-note" }, t("Call from {number}: no patient picked for it.", { number: c.caller_number })));
    this.calls.render(null);
    byTestId("comment-form").scrollIntoView({ block: "nearest" });
    byTestId("comment-caller-type").focus();
  }

  showCard() {
    const actions = (a, patient) => this.appointmentActions(a, patient);
    if (this.picked) {
      replace(this.card, patientCard(this.picked, actions));
      return;
    }
    const row = this.selected && this.board.row(this.selected);
    if (!row) {
      // A call that left the board keeps its card on screen while the admin writes its comment.
      if (!this.selected && !this.historyCall) replace(this.card, h("p", { className: "card-note muted" }, t("Pick a call to see who is calling.")));
      return;
    }
    this.card.dataset.callId = row.call_id;
    replace(this.card, callerCard(row.caller, actions));
  }

  async pickPatient(p) {
    if (!p) {
      this.picked = null;
      this.showCard();
      return;
    }
    try {
      this.picked = await get(`/api/patients/${enc(p.external_id)}`);
    } catch (e) {
      replace(this.card, h("p", { className: "card-note bad" }, errorText(e)));
      return;
    }
    const name = this.picked.full_name || this.picked.name;
    if (p.name !== name) this.comment.pick({ external_id: p.external_id, name }, false);
    this.showCard();
  }

  /** Move and cancel for an appointment on the card of ``patient`` (the scheduler's links). */
  appointmentActions(a, patient) {
    const callId = this.selected || this.historyCall?.id;
    if (!callId || !a.booking_id) return null;
    return h("span", { className: "appt-actions" },
      h("button", { type: "button", className: "small", on: { click: () => this.scheduler(callId, patient, "move", a.booking_id) } }, t("Move")),
      h("button", { type: "button", className: "small", on: { click: () => this.scheduler(callId, patient, "cancel", a.booking_id) } }, t("Cancel")));
  }

  async scheduler(callId, patient, action, bookingId) {
    const status = byTestId("comment-status");
    try {
      await openScheduler(callId, patient, action, bookingId);
    } catch (e) {
      status.textContent = (e instanceof ApiError && e.missing) || e instanceof NoLink ? t("The scheduler's link is not configured.") : errorText(e);
      status.classList.add("bad");
    }
  }

  connection(state) {
    const el = byTestId("connection-state");
    el.dataset.state = state;
    el.textContent = { connecting: t("Connecting…"), live: t("Live"), offline: t("Offline: reconnecting…") }[state];
  }

  key(e) {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const rows = [...document.querySelectorAll("[data-testid=call-row]")];
    const n = Number(e.key);
    const actions = {
      s: () => byTestId("comment-save").click(),
      b: () => byTestId("comment-save-book").click(),
      f: () => byTestId("patient-search").focus(),
      c: () => byTestId("comment-text").focus(),
      h: () => byTestId("history").querySelector("input, select").focus(),
    };
    if (n >= 1 && n <= 9 && rows[n - 1]) this.select(rows[n - 1].dataset.callId);
    else if (actions[e.key.toLowerCase()]) actions[e.key.toLowerCase()]();
    else return;
    e.preventDefault();
  }
}

async function main() {
  let me;
  try {
    me = await session();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) replace(byTestId("connection-state"), errorText(e));
    return;
  }
  replace(byId("who"), data(me.login), " · ", roleText(me.role));
  byId("csrf").value = me.csrf_token;
  new ConsolePage(me, page);
}

function roleText(role) {
  return { admin: t("admin"), assistant: t("assistant"), manager: t("manager") }[role] || role;
}

main();
