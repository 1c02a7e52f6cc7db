// The calls in progress as this console knows them, and which one pops: pure state, no DOM.
// The server's rows are whole (board.py row()): a delta replaces the row it names.

export const LINGER_MS = 8000; // a call taken elsewhere or given up stays on screen this long

export class Board {
  constructor(me) {
    this.me = me; // {login, role, admin_login, branch}
    this.calls = new Map(); // call_id -> row, in arrival order
    this.over = new Map(); // call_id -> {row, until}: ended calls still shown
    this.popId = null; // the call whose pop is up
    this.popUntil = null; // when a pop with nothing more to say goes (taken elsewhere, over)
  }

  snapshot(rows, now) {
    this.calls = new Map(rows.map((r) => [r.call_id, r]));
    if (this.popId && !this.calls.has(this.popId) && !this.over.has(this.popId)) this.popId = null;
    this.repop(now);
  }

  /** A delta: the row's new state; returns what changed for the pop ("shown", "updated", null). */
  delta(m, now) {
    const row = m.call;
    if (m.event === "ended") {
      this.calls.delete(row.call_id);
      this.over.set(row.call_id, { row, until: now + LINGER_MS });
    } else {
      this.calls.set(row.call_id, row);
    }
    if (m.event === "offered" && this.mine(m.admin) && this.popId !== row.call_id) {
      if (!this.popId || this.settled(this.popId)) {
        this.popId = row.call_id;
        this.popUntil = null;
        return "shown";
      }
    }
    if (row.call_id !== this.popId) return null;
    const phase = this.phase(row);
    if (this.popUntil === null && ["taken", "ended", "gave_up"].includes(phase)) this.popUntil = now + LINGER_MS;
    return "updated";
  }

  mine(admin) {
    return Boolean(admin) && admin === this.me.admin_login;
  }

  row(callId) {
    return this.calls.get(callId) || this.over.get(callId)?.row || null;
  }

  /** A call whose pop has nothing more to say: taken, or over. */
  settled(callId) {
    const r = this.row(callId);
    return !r || r.outcome !== null || r.taken_by !== null;
  }

  /** Ended calls past their time leave; the pop moves to a call still ringing this admin. */
  tick(now) {
    for (const [id, o] of this.over) if (o.until <= now) this.over.delete(id);
    return this.repop(now);
  }

  repop(now) {
    const before = this.popId;
    const done = this.popUntil !== null && now >= this.popUntil;
    if (this.popId && this.row(this.popId) && !done) return null;
    this.popId = null;
    this.popUntil = null;
    for (const r of [...this.calls.values()].reverse()) {
      if (r.taken_by === null && this.me.admin_login && r.ringing.includes(this.me.admin_login)) {
        this.popId = r.call_id;
        break;
      }
    }
    return this.popId !== before ? (this.popId ? "shown" : "gone") : null;
  }

  /** What the pop says of the call now. */
  phase(r) {
    if (r.outcome === "abandoned") return "gave_up";
    if (r.outcome !== null) return "ended";
    if (r.taken_by !== null) return r.taken_by === this.me.admin_login ? "yours" : "taken";
    if (this.me.admin_login && r.ringing.includes(this.me.admin_login)) return "ringing";
    if (r.queue_position !== null) return "queued";
    return "waiting";
  }

  /** The calls in progress and those just over (shown a while: "the caller hung up"). */
  rows() {
    const over = [...this.over.values()].map((o) => o.row);
    return [...this.calls.values(), ...over].sort((a, b) => (a.started_at < b.started_at ? -1 : 1));
  }
}
