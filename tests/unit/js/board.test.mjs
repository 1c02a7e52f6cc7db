// The console's pure state (ari_app/screenpop/static/board.js): which call pops, and what it says.
import assert from "node:assert/strict";
import test from "node:test";

import { Board, LINGER_MS } from "../../../ari_app/screenpop/static/board.js";

const ANNA = { login: "anna", role: "admin", admin_login: "anna", branch: "downtown" };
const BOSS = { login: "boss", role: "manager", admin_login: null, branch: null };

function row(id, more = {}) {
  return {
    call_id: id, started_at: `2026-12-07T20:0${id.slice(-1)}:00+00:00`, number: "(202) 555-0111",
    branch: "downtown", ad_channel: "website",
    caller: { kind: "patient", name: "Olha", cards: 1, card_state: "none", card: null },
    ringing: [], offered_to: [], queue_position: null, queued_at: null,
    taken_by: null, taken_by_name: null, transferred_to: null, outcome: null, ...more,
  };
}
const delta = (event, call, admin = null) => ({ type: "call", event, admin, call, seq: 1 });

test("a call offered to this admin pops; one offered to another does not", () => {
  const b = new Board(ANNA);
  assert.equal(b.delta(delta("started", row("c1")), 0), null);
  assert.equal(b.delta(delta("offered", row("c1", { ringing: ["ben"] }), "ben"), 0), null);
  assert.equal(b.popId, null);
  assert.equal(b.delta(delta("offered", row("c1", { ringing: ["anna", "ben"] }), "anna"), 0), "shown");
  assert.equal(b.popId, "c1");
  assert.equal(b.phase(b.row("c1")), "ringing");
});

test("the pop says who took the call, lingers, then goes", () => {
  const b = new Board(ANNA);
  b.delta(delta("offered", row("c1", { ringing: ["anna"] }), "anna"), 0);
  const taken = row("c1", { taken_by: "ben", taken_by_name: "Ben" });
  assert.equal(b.delta(delta("taken", taken), 1000), "updated");
  assert.equal(b.phase(b.row("c1")), "taken");
  assert.equal(b.tick(1000 + LINGER_MS - 1), null);
  assert.equal(b.tick(1000 + LINGER_MS), "gone");
  assert.equal(b.popId, null);
});

test("a caller who gives up: the pop says so, the row stays a while", () => {
  const b = new Board(ANNA);
  b.delta(delta("offered", row("c1", { ringing: ["anna"] }), "anna"), 0);
  b.delta(delta("queued", row("c1", { queue_position: 2 })), 10);
  assert.equal(b.phase(b.row("c1")), "queued");
  b.delta(delta("ended", row("c1", { outcome: "abandoned" })), 20);
  assert.equal(b.phase(b.row("c1")), "gave_up");
  assert.deepEqual(b.rows().map((r) => r.call_id), ["c1"]);
  b.tick(20 + LINGER_MS);
  assert.deepEqual(b.rows(), []);
  assert.equal(b.popId, null);
});

test("the admin's own call keeps its pop; a second call does not take it over while it rings", () => {
  const b = new Board(ANNA);
  b.delta(delta("offered", row("c1", { ringing: ["anna"] }), "anna"), 0);
  assert.equal(b.delta(delta("offered", row("c2", { ringing: ["anna"] }), "anna"), 5), null);
  assert.equal(b.popId, "c1"); // the first still rings: it stays up
  b.delta(delta("taken", row("c1", { taken_by: "anna" })), 10);
  assert.equal(b.phase(b.row("c1")), "yours");
  assert.equal(b.tick(10 + 10 * LINGER_MS), null); // on the call: no time limit
});

test("once the popped call is settled, the next offer pops", () => {
  const b = new Board(ANNA);
  b.delta(delta("offered", row("c1", { ringing: ["anna"] }), "anna"), 0);
  b.delta(delta("taken", row("c1", { taken_by: "ben" })), 1);
  assert.equal(b.delta(delta("offered", row("c2", { ringing: ["anna"] }), "anna"), 2), "shown");
  assert.equal(b.popId, "c2");
});

test("a snapshot restores the pop of a call still ringing this admin", () => {
  const b = new Board(ANNA);
  b.snapshot([row("c1"), row("c2", { ringing: ["anna"] })], 0);
  assert.equal(b.popId, "c2");
  b.snapshot([row("c1")], 1);
  assert.equal(b.popId, null);
});

test("a manager sees every call and gets no pop", () => {
  const b = new Board(BOSS);
  b.snapshot([row("c2", { ringing: ["anna"] }), row("c1")], 0);
  assert.equal(b.delta(delta("offered", row("c3", { ringing: ["anna"] }), "anna"), 1), null);
  assert.equal(b.popId, null);
  assert.deepEqual(b.rows().map((r) => r.call_id), ["c1", "c2", "c3"]);
  assert.equal(b.phase(b.row("c2")), "waiting");
});
