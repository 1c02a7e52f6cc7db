// The link carries the one-time code in its fragment (#code=...), which browsers never send to a
// server: it is read here, put in the form, and removed from the address bar and the history.
"use strict";
(function () {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const code = params.get("code");
  if (code) {
    document.getElementById("code").value = code;
    history.replaceState(null, "", window.location.pathname);
  }
  const form = document.getElementById("set-password");
  const result = document.getElementById("result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { code: form.code.value, password: form.password.value };
    const answer = await fetch("/set-password", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const said = await answer.json();
    if (answer.ok) {
      result.textContent = "Password set. You can sign in now.";
      window.location.assign("/login");
    } else {
      result.textContent = said.detail || "The password could not be set.";
    }
  });
})();
