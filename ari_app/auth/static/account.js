// Fills in who is signed in, and the session's CSRF token for the sign-out form.
"use strict";
(async function () {
  const answer = await fetch("/auth/session", { credentials: "same-origin" });
  if (!answer.ok) {
    window.location.assign("/login");
    return;
  }
  const session = await answer.json();
  const where = session.branch ? ` (${session.admin_login}, ${session.branch})` : "";
  document.getElementById("who").textContent = `${session.login}: ${session.role}${where}`;
  document.getElementById("csrf").value = session.csrf_token;
})();
