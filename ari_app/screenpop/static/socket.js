// The console socket (/console/ws): the snapshot, then numbered deltas. A gap in the numbers
// asks for a new snapshot; a closed socket reconnects with a growing pause; the heartbeat says
// whether the tab is visible (a hidden tab does not keep the session alive).

const HEARTBEAT_MS = 30000;
const RETRY_MS = [1000, 2000, 5000, 10000, 20000];
const SIGNED_OUT = new Set([1008]); // the session ended (signed out, disabled): sign in again

export class LiveSocket {
  /** onSnapshot(calls), onDelta(message), onState("connecting" | "live" | "offline"). */
  /** onSignedOut(): the session ended; onLost(): closed otherwise (is the session still on?). */
  constructor({ onSnapshot, onDelta, onState, onSignedOut, onLost }) {
    Object.assign(this, { onSnapshot, onDelta, onState, onSignedOut, onLost });
    this.seq = null;
    this.tries = 0;
    this.ws = null;
    this.beatTimer = null;
    this.retryTimer = null;
    document.addEventListener("visibilitychange", () => this.beat());
  }

  open() {
    this.onState("connecting");
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}/console/ws`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.tries = 0;
      this.beat();
    });
    ws.addEventListener("message", (e) => this.receive(e.data));
    ws.addEventListener("close", (e) => this.closed(ws, e));
  }

  receive(text) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    // A frame holds one message, or (a burst the server sent together) an array of them in order.
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.one(m);
  }

  one(m) {
    if (m === null || typeof m !== "object") return;
    if (m.type === "snapshot") {
      this.seq = m.seq;
      this.onState("live");
      this.onSnapshot(m.calls || []);
    } else if (m.type === "call") {
      if (this.seq === null) return; // before the snapshot: it will carry this change
      if (m.seq !== this.seq + 1) {
        this.seq = null;
        this.send({ type: "snapshot" });
        return;
      }
      this.seq = m.seq;
      this.onDelta(m);
    }
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.seq = null;
    clearTimeout(this.beatTimer);
    this.onState("offline");
    if (SIGNED_OUT.has(event.code)) {
      this.onSignedOut();
      return;
    }
    if (this.tries > 0) this.onLost();
    const wait = RETRY_MS[Math.min(this.tries, RETRY_MS.length - 1)];
    this.tries += 1;
    this.retryTimer = setTimeout(() => this.open(), wait);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  beat() {
    clearTimeout(this.beatTimer);
    this.send({ type: "heartbeat", visible: document.visibilityState === "visible" });
    if (this.ws) this.beatTimer = setTimeout(() => this.beat(), HEARTBEAT_MS);
  }
}
