// The console socket's reading of the server's numbering (ari_app/screenpop/static/socket.js):
// deltas in order pass, a gap asks for a snapshot and drops what comes until it.
import assert from "node:assert/strict";
import test from "node:test";

globalThis.document = { visibilityState: "visible", addEventListener() {} };
globalThis.WebSocket = class { static OPEN = 1; };
const { LiveSocket } = await import("../../../ari_app/screenpop/static/socket.js");

function socket() {
  const seen = { snapshots: [], deltas: [], sent: [], states: [] };
  const s = new LiveSocket({
    onSnapshot: (calls) => seen.snapshots.push(calls),
    onDelta: (m) => seen.deltas.push(m.seq),
    onState: (st) => seen.states.push(st),
    onSignedOut() {},
    onLost() {},
  });
  s.ws = { readyState: 1, send: (text) => seen.sent.push(JSON.parse(text)) };
  return { s, seen };
}
const call = (seq) => JSON.stringify({ type: "call", seq, event: "started", admin: null, call: { call_id: "c" } });

test("deltas after the snapshot pass in order", () => {
  const { s, seen } = socket();
  s.receive(call(1)); // before any snapshot: the snapshot will carry it
  s.receive(JSON.stringify({ type: "snapshot", seq: 3, calls: [] }));
  s.receive(call(4));
  s.receive(call(5));
  assert.deepEqual(seen.deltas, [4, 5]);
  assert.deepEqual(seen.states, ["live"]);
});

test("a gap asks for a snapshot and drops the deltas until it comes", () => {
  const { s, seen } = socket();
  s.receive(JSON.stringify({ type: "snapshot", seq: 0, calls: [] }));
  s.receive(call(1));
  s.receive(call(3)); // 2 went missing
  s.receive(call(4));
  assert.deepEqual(seen.deltas, [1]);
  assert.deepEqual(seen.sent, [{ type: "snapshot" }]);
  s.receive(JSON.stringify({ type: "snapshot", seq: 4, calls: [{ call_id: "c" }] }));
  s.receive(call(5));
  assert.deepEqual(seen.deltas, [1, 5]);
  assert.equal(seen.snapshots.length, 2);
});

test("a frame holding a burst is read message by message, in order", () => {
  const { s, seen } = socket();
  const burst = [{ type: "snapshot", seq: 2, calls: [] }, ...[3, 4, 5].map((n) => JSON.parse(call(n)))];
  s.receive(JSON.stringify(burst));
  s.receive(JSON.stringify([JSON.parse(call(7)), JSON.parse(call(8))])); // 6 went missing
  assert.deepEqual(seen.deltas, [3, 4, 5]);
  assert.deepEqual(seen.sent, [{ type: "snapshot" }]);
});

test("what is not JSON is ignored", () => {
  const { s, seen } = socket();
  s.receive("not json");
  assert.deepEqual([seen.deltas, seen.snapshots], [[], []]);
});

test("a tab shown again while the socket is down does not cancel the reconnect", () => {
  const timers = new Map();
  let next = 0;
  const real = [globalThis.setTimeout, globalThis.clearTimeout];
  globalThis.setTimeout = (fn) => (timers.set(++next, fn), next);
  globalThis.clearTimeout = (id) => timers.delete(id);
  try {
    const { s } = socket();
    let opened = 0;
    s.open = () => (opened += 1);
    s.closed(s.ws, { code: 1006 });
    s.beat(); // visibilitychange while offline
    for (const fn of timers.values()) fn();
    assert.equal(opened, 1);
  } finally {
    [globalThis.setTimeout, globalThis.clearTimeout] = real;
  }
});
