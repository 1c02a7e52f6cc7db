// The page's locale, zone, money and translated messages, as the server wrote them into
// <script type="application/json" id="page-data"> (ari_app/i18n/pages.py), and the helpers
// every page's script uses to show text, dates, numbers and money in them.
//
//   import { page, t, tn, fmt } from "/assets/i18n/i18n.js";
//   t("Signed in as {name}", { name: session.login });
//   tn("{n} call waiting", "{n} calls waiting", count, { n: fmt.number(count) });
//
// Only literal strings in t() and tn() calls are found by `python -m ari_app.i18n extract`:
// never build a message from pieces or pass a variable.

const element = document.getElementById("page-data");
export const page = Object.freeze(element ? JSON.parse(element.textContent) : {
  locale: "en-US", timezone: "UTC", currency: "USD", messages: {},
});
const messages = page.messages || {};

function fill(text, params) {
  return text.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
}

// The translation of msgid (the English text), its {placeholders} filled from params.
export function t(msgid, params = {}) {
  const found = messages[msgid];
  return fill(typeof found === "string" ? found : msgid, params);
}

const pluralRules = new Intl.PluralRules(page.locale);

// The form of a message for n things (the locale's plural rules), placeholders filled; n itself
// is not put in for you: pass it (formatted) among params.
export function tn(singular, plural, n, params = {}) {
  const forms = messages[singular];
  let text = n === 1 ? singular : plural;
  if (forms && typeof forms === "object") {
    text = forms[pluralRules.select(n)] ?? forms.other ?? text;
  }
  return fill(text, params);
}

const zone = { timeZone: page.timezone };
const formatters = {
  dateTime: new Intl.DateTimeFormat(page.locale, { ...zone, dateStyle: "medium", timeStyle: "short" }),
  date: new Intl.DateTimeFormat(page.locale, { ...zone, dateStyle: "medium" }),
  time: new Intl.DateTimeFormat(page.locale, { ...zone, timeStyle: "short" }),
  number: new Intl.NumberFormat(page.locale),
  percent: new Intl.NumberFormat(page.locale, { style: "percent", maximumFractionDigits: 1 }),
};
const moneyFormats = new Map();

function moneyFormat(currency) {
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat(page.locale, { style: "currency", currency }));
  }
  return moneyFormats.get(currency);
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

export const fmt = Object.freeze({
  // An ISO 8601 instant ("2026-12-07T20:15:00Z"), in the page's time zone.
  dateTime: (iso) => formatters.dateTime.format(new Date(iso)),
  date: (iso) => formatters.date.format(new Date(iso)),
  time: (iso) => formatters.time.format(new Date(iso)),
  number: (n) => formatters.number.format(n),
  // 0.125 → "12.5%"
  percent: (ratio) => formatters.percent.format(ratio),
  // A decimal string as the API sends money ("-120.50"): Intl formats the string itself
  // (exact, no float rounding) where the browser can, else the number.
  money(decimalText, currency = page.currency) {
    const text = String(decimalText);
    if (!DECIMAL.test(text)) throw new RangeError(`not a decimal amount: ${text}`);
    const format = moneyFormat(currency);
    try {
      return format.format(text);
    } catch {
      return format.format(Number(text));
    }
  },
  // 65 → "1:05", 3723 → "1:02:03"
  duration(seconds) {
    const total = Math.max(0, Math.floor(Number(seconds) || 0));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
  },
});
