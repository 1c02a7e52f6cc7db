// The call comment: caller type, topic, the patient the call is about (found by search, the
// caller's number optionally added to that card), free text; "Save" and "Save and book".
import { fmt, t, tn } from "/assets/i18n/i18n.js";
import { ApiError, enc, get, post, put, query } from "./api.js";
import { data, day, h, replace } from "./dom.js";

export const CALLER_TYPES = {
  patient_to_book: () => t("Patient: wants to book"),
  patient_booked: () => t("Patient: already booked (asks, moves, cancels)"),
  employee: () => t("Employee"),
  contractor: () => t("Contractor, supplier, other business"),
  other: () => t("Other (wrong number, spam, silence)"),
};
const PHONE_ROLES = {
  self: () => t("the patient's own"),
  parent: () => t("a parent's"),
  guardian: () => t("a guardian's"),
  spouse: () => t("a spouse's"),
  child: () => t("a child's"),
  relative: () => t("a relative's"),
  other: () => t("someone else's"),
};
const SEARCH_WAIT_MS = 250;

export class CommentForm {
  /** ``onPatient(card | null)``: the patient picked; ``onBook(callId, patientId)``: after "Save and book". */
  constructor({ form, me, topics, status, onPatient, onBook, onSaved }) {
    Object.assign(this, { form, me, status, onPatient, onBook, onSaved });
    this.f = form.elements;
    this.callId = null;
    this.version = 0;
    this.patient = null; // {external_id, name}
    fill(this.f.caller_type, Object.entries(CALLER_TYPES).map(([v, label]) => [v, label()]), true);
    fill(this.f.topic, [["unknown", t("Unknown")], ...topics.map((tp) => [tp.id, tp.name])], false);
    fill(this.f.number_role, Object.entries(PHONE_ROLES).map(([v, label]) => [v, label()]), false);
    this.dirty = false; // edits not saved yet: a new pop does not take the form over
    form.addEventListener("input", (e) => {
      if (e.target !== this.searchBox) this.dirty = true;
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save(e.submitter && e.submitter.value === "book");
    });
    this.searchBox = form.querySelector("[data-testid=patient-search]");
    this.results = form.querySelector("[data-testid=patient-results]");
    this.searchBox.addEventListener("input", () => this.searchSoon());
    this.searchBox.addEventListener("keydown", (e) => this.searchKey(e));
    form.querySelector("[data-testid=patient-clear]").addEventListener("click", () => this.pick(null));
    form.querySelector("[data-testid=patient-add-number]").addEventListener("click", () => this.addNumber());
    this.enable(false);
  }

  enable(on) {
    for (const el of this.form.elements) el.disabled = !on;
    this.form.setAttribute("aria-disabled", String(!on));
  }

  /** A call to comment: its row (live) or history record; the card's patient comes pre-picked. */
  async open(callId, { callerKind, patient, author, number, cards }) {
    this.callId = callId;
    this.dirty = false;
    this.author = this.me.admin_login || author || null;
    this.form.dataset.callId = callId;
    this.enable(true);
    this.f.caller_type.value = { staff: "employee", contractor: "contractor" }[callerKind] || "";
    this.f.topic.value = "unknown";
    this.f.text.value = "";
    this.version = 0;
    this.pick(patient || null, false);
    this.say("");
    this.searchBox.value = "";
    if (!patient && number && (cards > 1 || callerKind === "patient")) {
      // The number is on several cards (or the card was not read): they are listed to pick from.
      this.searchBox.value = number;
      this.search();
    }
    try {
      const c = await get(`/api/calls/${enc(callId)}/comment`);
      if (this.callId !== callId) return;
      this.version = c.version;
      this.author = this.me.admin_login || c.author;
      this.f.caller_type.value = c.caller_type;
      this.f.topic.value = c.topic;
      this.f.text.value = c.text;
      if (c.patient_external_id && c.patient_external_id !== patient?.external_id) {
        this.pick({ external_id: c.patient_external_id, name: "" }, true);
      }
      this.say(t("Saved earlier by {name} at {time}", { name: c.author, time: fmt.dateTime(c.written_at) }));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) this.say(errorText(e), true);
    }
  }

  close() {
    this.callId = null;
    delete this.form.dataset.callId;
    this.enable(false);
  }

  pick(patient, tell = true) {
    this.patient = patient;
    const shown = this.form.querySelector("[data-testid=comment-patient]");
    replace(shown, patient ? data(patient.name || patient.external_id, "strong") : h("span", { className: "muted" }, t("no patient picked")));
    this.form.querySelector("[data-testid=patient-add-number]").disabled = !patient;
    this.f.number_role.disabled = !patient;
    replace(this.results);
    this.results.hidden = true;
    if (tell) this.onPatient(patient);
  }

  searchSoon() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.search(), SEARCH_WAIT_MS);
  }

  async search() {
    const q = this.searchBox.value.trim();
    if (q.length < 2) {
      replace(this.results);
      this.results.hidden = true;
      return;
    }
    let found;
    try {
      found = await get(`/api/patients${query({ q })}`);
    } catch (e) {
      this.showResults([], e instanceof ApiError && e.missing ? t("Patient search is not available on this server.") : errorText(e));
      return;
    }
    if (this.searchBox.value.trim() !== q) return; // typed on meanwhile
    this.showResults(found.patients || found.results || [], null);
  }

  showResults(items, problem) {
    const options = items.map((p, i) => h("li", {
      id: `patient-option-${i}`,
      attrs: { role: "option", "aria-selected": "false" },
      dataset: { testid: "patient-result", externalId: p.external_id },
      on: { click: () => this.pick({ external_id: p.external_id, name: p.name || p.full_name }) },
    }, data(p.name || p.full_name, "strong"), " ",
      p.age !== undefined && p.age !== null ? h("span", { className: "muted" }, tn("{n} year", "{n} years", p.age, { n: fmt.number(p.age) })) : null, " ",
      p.birth_date ? data(day(p.birth_date), "small") : null, " ",
      p.guardian_name ? h("small", {}, t("parent or guardian:"), " ", data(p.guardian_name)) : null, " ",
      h("small", { className: "muted" }, data(p.external_id))));
    if (!options.length) options.push(h("li", { className: "muted", attrs: { role: "option", "aria-disabled": "true" } }, problem || t("No patient found.")));
    replace(this.results, options);
    this.results.hidden = false;
    this.searchBox.setAttribute("aria-expanded", "true");
  }

  searchKey(e) {
    const options = [...this.results.querySelectorAll("[data-testid=patient-result]")];
    if (!options.length) return;
    const at = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = (at + (e.key === "ArrowDown" ? 1 : options.length - 1 + (at < 0 ? 1 : 0))) % options.length;
      options.forEach((o, i) => o.setAttribute("aria-selected", String(i === next)));
      this.searchBox.setAttribute("aria-activedescendant", options[next].id);
    } else if (e.key === "Enter" && at >= 0) {
      e.preventDefault();
      options[at].click();
    } else if (e.key === "Escape") {
      this.results.hidden = true;
    }
  }

  body() {
    const f = this.f;
    const body = { caller_type: f.caller_type.value, topic: f.topic.value, text: f.text.value, author: this.author, expected_version: this.version };
    if (this.patient) body.patient_external_id = this.patient.external_id;
    return body;
  }

  async save(book) {
    if (!this.callId) return;
    if (!this.f.caller_type.value) {
      this.say(t("Choose who called."), true);
      this.f.caller_type.focus();
      return;
    }
    if (!this.author) {
      this.say(t("Only an admin can sign this comment: nobody took this call."), true);
      return;
    }
    const callId = this.callId;
    this.say(t("Saving…"));
    try {
      const saved = await put(`/api/calls/${enc(callId)}/comment`, this.body());
      this.version = saved.version;
      this.dirty = false;
      this.say(t("Saved."));
      this.onSaved(callId);
      if (book) this.onBook(callId, this.patient && this.patient.external_id);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        this.say(t("Another admin changed this comment meanwhile: check theirs, then save again."), true);
        const patient = this.patient;
        await this.open(callId, { callerKind: null, patient, author: this.author });
        return;
      }
      this.say(errorText(e), true);
    }
  }

  /** The number this call came from, on the picked card (the patient's or a relative's). */
  async addNumber() {
    if (!this.callId || !this.patient) return;
    try {
      const done = await post(`/api/patients/${enc(this.patient.external_id)}/numbers`, { call_id: this.callId, role: this.f.number_role.value });
      this.say(done.added ? t("The caller's number is now on this card.") : t("This card already has the caller's number."));
    } catch (e) {
      this.say(errorText(e), true);
    }
  }

  say(text, bad = false) {
    this.status.textContent = text;
    this.status.classList.toggle("bad", bad);
  }
}

function fill(select, options, blank) {
  const items = options.map(([value, label]) => h("option", { value }, label));
  if (blank) items.unshift(h("option", { value: "" }, t("Choose…")));
  replace(select, items);
}

// What a refusal means to the person, by the server's stable error id (its own "detail" is
// English for developers and logs; the page says it in the person's language).
const REFUSALS = {
  unauthenticated: () => t("Your session has ended: sign in again."),
  session_ended: () => t("Your session has ended: sign in again."),
  csrf_refused: () => t("The page is out of date: reload it and try again."),
  forbidden: () => t("You may not do this."),
  call_not_found: () => t("This call is not one you can see."),
  patient_not_found: () => t("No such patient card."),
  comment_not_found: () => t("This call has no comment yet."),
  recording_not_found: () => t("This call has no recording."),
  recording_missing: () => t("The recording's file is missing: tell the clinic's engineer."),
  version_conflict: () => t("Someone else changed this comment meanwhile: it was reloaded, check it and save again."),
  bad_reason: () => t("Pick one of the reasons offered."),
  bad_state: () => t("That state cannot be chosen here."),
  not_on_call: () => t("You are not on a call to hand on."),
  bad_number: () => t("That is not a phone number."),
  bad_search: () => t("Search for a name, a phone number or a card number (up to 5 words)."),
  bad_text: () => t("The text is too long or holds characters that cannot be stored."),
  database_unavailable: () => t("The database is not answering: try again in a moment."),
};

export function errorText(e) {
  if (!(e instanceof ApiError)) return t("Not done: the server could not be reached.");
  const said = REFUSALS[e.id];
  if (said) return t("Not done: {reason}", { reason: said() });
  return t("Not done: the server refused it ({code}).", { code: e.id || e.status });
}
