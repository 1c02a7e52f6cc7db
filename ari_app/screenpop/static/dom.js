// Small DOM helpers: elements built with properties, never from HTML strings (no injection).
import { fmt } from "/assets/i18n/i18n.js";

/** An element: h("td", {className: "n", dataset: {testid: "x"}}, child, "text", ...). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) el.setAttribute(a, v);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el[key] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Data as it came (a name, a number, a comment): kept out of translation. */
export function data(text, tag = "span", props = {}) {
  const el = h(tag, props, text ?? "");
  el.setAttribute("data-no-translate", "");
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const byId = (id) => document.getElementById(id);
export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

/** A calendar day ("2026-12-10", a birth date, a visit): read at noon UTC, so the page's zone
 * does not move it to the day before or after. An instant is formatted as it is. */
export function day(iso) {
  const text = String(iso);
  return fmt.date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T12:00:00Z` : text);
}
