// The admin's own presence: available, or paused with a reason; what the desk says they are
// (ringing, on a call, wrap-up) is shown beside it and read again every few seconds.
import { t } from "/assets/i18n/i18n.js";
import { ApiError, enc, get, put } from "./api.js";
import { errorText } from "./comment.js";
import { data, h, replace } from "./dom.js";

const REFRESH_MS = 15000;
const STATES = {
  available: () => t("Available"),
  paused: () => t("Paused"),
  ringing: () => t("Ringing"),
  on_call: () => t("On a call"),
  wrap_up: () => t("Wrap-up"),
  offline: () => t("Phone offline"),
};

export class Presence {
  constructor({ root, login }) {
    Object.assign(this, { root, login });
    this.f = root.querySelector("form").elements;
    this.state = root.querySelector("[data-testid=presence-state]");
    this.status = root.querySelector("[data-testid=presence-status]");
    root.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.set(e.submitter && e.submitter.value === "paused" ? "paused" : "available");
    });
    this.f.reason.addEventListener("change", () => {
      this.f.reason_text.hidden = this.f.reason.value !== "other";
    });
  }

  async read() {
    let me;
    try {
      me = await get("/api/admins/me");
    } catch (e) {
      if (!(e instanceof ApiError && e.missing)) return this.say(errorText(e));
      const all = await get("/api/admins").catch(() => null); // before /api/admins/me existed
      me = all && all.admins.find((a) => a.login === this.login);
    }
    if (me && me.pause_reasons && me.pause_reasons.length && !this.reasonsSet) this.reasons(me.pause_reasons);
    if (me && (me.presence || me.state)) this.show(me.presence || me);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.read(), REFRESH_MS);
  }

  /** The clinic's own pause reasons replace the page's (the desk accepts only those). */
  reasons(list) {
    this.reasonsSet = true;
    replace(this.f.reason, list.map((r) => {
      const o = h("option", { value: r }, r);
      o.setAttribute("data-no-translate", "");
      return o;
    }));
    this.f.reason_text.hidden = true;
  }

  show(p) {
    const label = STATES[p.state] ? STATES[p.state]() : p.state;
    this.root.dataset.state = p.state;
    replace(this.state, label, p.pause_reason ? [": ", data(p.pause_reason)] : null);
  }

  async set(state) {
    const reason = this.f.reason.value === "other" ? this.f.reason_text.value.trim() : this.f.reason.selectedOptions[0]?.textContent;
    try {
      const p = await put(`/api/admins/${enc(this.login)}/presence`, state === "paused" ? { state, reason: reason || t("Paused") } : { state });
      this.show(p);
      this.say("");
    } catch (e) {
      this.say(errorText(e));
    }
  }

  say(text) {
    this.status.textContent = text;
  }
}
