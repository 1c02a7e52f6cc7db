// Fills in who is signed in, and the session's CSRF token for the sign-out form.
import { t } from "/assets/i18n/i18n.js";

const ROLES = {
  admin: t("Administrator"),
  assistant: t("Assistant"),
  manager: t("Manager"),
};

const answer = await fetch("/auth/session", { credentials: "same-origin" });
if (!answer.ok) {
  window.location.assign("/login");
} else {
  const session = await answer.json();
  const role = ROLES[session.role] ?? session.role;
  const who = session.branch
    ? t("{login}: {role} ({admin}, branch {branch})", {
        login: session.login, role, admin: session.admin_login, branch: session.branch,
      })
    : t("{login}: {role}", { login: session.login, role });
  document.getElementById("who").textContent = who;
  document.getElementById("csrf").value = session.csrf_token;
}
