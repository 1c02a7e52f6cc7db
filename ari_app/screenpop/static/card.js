// The caller's card as the admin reads it while the phone rings: the name first, then money,
// insurance and attendance at a glance, then what is planned and pending.
import { fmt, t, tn } from "/assets/i18n/i18n.js";
import { data, day, h } from "./dom.js";

const LOW_COMPLETION = 0.7; // below this share of visits kept, the admin is warned (no-shows)

/** A patient card from the pop (cards.py) or the patients API, in one shape. */
export function normal(c) {
  const policy = c.policy || null;
  const balance = c.balance ?? "0";
  const visits = c.visits || {};
  return {
    ...c,
    name: c.name || c.full_name || "",
    age: c.age ?? ageOn(c.birth_date, new Date()),
    completed_share: c.completed_share ?? visits.completed_share ?? null,
    last_visit: c.last_visit ?? visits.last ?? null,
    guardian: c.guardian ?? c.guardian_name ?? null,
    debt: c.debt ?? (String(balance).startsWith("-") ? String(balance).slice(1) : null),
    policy,
    future_appointments: c.future_appointments || [],
    open_tasks: c.open_tasks || [],
    waiting_list: c.waiting_list || [],
  };
}

/** Full years on ``today`` of a birth date ("2018-06-10"); null without one. */
export function ageOn(birth, today) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth || "");
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const before = today.getMonth() + 1 < mo || (today.getMonth() + 1 === mo && today.getDate() < d);
  return today.getFullYear() - y - (before ? 1 : 0);
}

function figure(label, value, props = {}) {
  return h("div", { className: `figure ${props.tone || ""}`, dataset: props.testid ? { testid: props.testid } : {} },
    h("dt", {}, label),
    h("dd", {}, value));
}

function money(text) {
  return data(fmt.money(String(text ?? "0")));
}

function balanceFigure(c) {
  if (c.debt) return figure(t("Debt"), money(c.debt), { tone: "bad", testid: "card-debt" });
  const advance = Number(c.balance) > 0;
  return figure(advance ? t("Advance") : t("Balance"), money(c.balance), { tone: advance ? "good" : "", testid: "card-balance" });
}

function policyFigure(p) {
  if (!p) return figure(t("Insurance policy"), t("none"), { testid: "card-policy" });
  const dates = [p.valid_from, p.valid_to].filter(Boolean).map((d) => day(d)).join(" – ");
  return figure(t("Insurance policy"),
    h("span", {}, h("span", { className: `badge ${p.active ? "good" : "bad"}` }, p.active ? t("active") : t("not active")), " ",
      data(p.number), dates ? h("small", {}, " ", data(dates)) : null),
    { testid: "card-policy" });
}

function completion(share) {
  if (share === null || share === undefined) return figure(t("Visits kept"), t("no visits yet"));
  const low = share < LOW_COMPLETION;
  return figure(t("Visits kept"), h("span", {}, data(fmt.percent(share)), low ? h("small", {}, " ", t("often misses visits")) : null),
    { tone: low ? "warn" : "", testid: "card-completed" });
}

function list(title, items, render, testid) {
  if (!items.length) return null;
  return h("section", { className: "card-list", dataset: { testid } },
    h("h4", {}, title, " ", h("span", { className: "count" }, data(fmt.number(items.length)))),
    h("ul", {}, items.map((i) => h("li", {}, render(i)))));
}

/** ``actions(appointment)``: the buttons beside a future appointment (move, cancel). */
export function patientCard(raw, actions = () => null) {
  const c = normal(raw);
  const head = h("header", { className: "card-head" },
    h("h3", {}, data(c.name, "span", { className: "card-name" })),
    h("p", { className: "card-sub" },
      c.age !== null && c.age !== undefined ? h("span", { dataset: { testid: "card-age" } }, tn("{n} year", "{n} years", c.age, { n: fmt.number(c.age) })) : null,
      c.guardian ? h("span", { dataset: { testid: "card-guardian" } }, t("parent or guardian:"), " ", data(c.guardian)) : null,
      c.external_id ? h("span", { className: "muted" }, t("card"), " ", data(c.external_id)) : null));
  const figures = h("dl", { className: "figures" },
    balanceFigure(c),
    figure(t("Treatment"), money(c.treatment_sum)),
    figure(t("Family"), money(c.family_sum)),
    figure(t("Insurance"), money(c.insurance_sum)),
    policyFigure(c.policy),
    completion(c.completed_share),
    figure(t("Last visit"), c.last_visit ? data(day(c.last_visit)) : t("none")));
  const comment = c.card_comment
    ? h("section", { className: "card-comment", dataset: { testid: "card-comment" } }, h("h4", {}, t("Card comments")), data(c.card_comment, "p"))
    : null;
  return h("article", { className: "patient-card", dataset: { testid: "patient-card", externalId: c.external_id || "" }, attrs: { "aria-label": t("Patient card") } },
    head, figures, comment,
    list(t("Future appointments"), c.future_appointments, (a) => [
      data(fmt.dateTime(a.at), "time", { className: "when" }), " ", data(a.doctor || ""), a.topic ? [" · ", data(a.topic)] : null,
      actions(a, c.external_id),
    ], "card-appointments"),
    list(t("Open tasks"), c.open_tasks, (task) => [data(task.title || ""), task.due ? [" · ", data(day(task.due), "time")] : null], "card-tasks"),
    list(t("Waiting list"), c.waiting_list, (w) => [data(w.what || ""), w.since ? [" · ", t("since"), " ", data(day(w.since), "time")] : null, w.note ? [" · ", data(w.note)] : null], "card-waiting"));
}

/** Who is calling, in words: a patient's name, a colleague, or a new caller. */
export function callerLine(caller) {
  switch (caller.kind) {
    case "patient":
      if (caller.cards > 1) return h("span", {}, data(caller.name), " ", h("span", { className: "badge warn" }, tn("on {n} card", "on {n} cards", caller.cards, { n: fmt.number(caller.cards) })));
      return h("span", {}, data(caller.name), " ", h("span", { className: "badge" }, t("patient")));
    case "staff":
      return h("span", {}, data(caller.name), " ", h("span", { className: "badge info" }, t("staff")));
    case "contractor":
      return h("span", {}, data(caller.name), " ", h("span", { className: "badge info" }, t("contractor")));
    case "unknown":
      return h("span", { className: "badge new" }, t("new caller"));
    default:
      return h("span", { className: "muted" }, t("identifying…"));
  }
}

/** The card area for a live call's caller (the card itself when there is one). */
export function callerCard(caller, actions) {
  if (caller.card_state === "ready" && caller.card) return patientCard(caller.card, actions);
  const say = {
    loading: t("Reading the card…"),
    unavailable: t("The card could not be read in time. Search for the patient below."),
  }[caller.card_state];
  if (say) return h("p", { className: "card-note" }, say);
  if (caller.kind === "patient" && caller.cards > 1) {
    return h("p", { className: "card-note" }, tn("This number is on {n} card: pick the patient below.", "This number is on {n} cards: pick the patient below.", caller.cards, { n: fmt.number(caller.cards) }));
  }
  if (caller.kind === "staff" || caller.kind === "contractor") {
    return h("p", { className: "card-note" }, caller.kind === "staff" ? t("A colleague is calling:") : t("A contractor is calling:"), " ", data(caller.name, "strong"));
  }
  if (caller.kind === "unknown") return h("p", { className: "card-note" }, t("New caller: no card has this number. Search for the patient or book a first visit."));
  return h("p", { className: "card-note muted" }, t("Identifying the caller…"));
}
