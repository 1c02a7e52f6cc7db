"""Signing in and out of the console, and setting a password from a one-time link.

- ``GET /login``: the sign-in form (``auth/login.html``, in the default locale; no inline script
  or style). It carries a pre-session CSRF token that must come back with the form, as the
  ``__Host-login`` cookie does (a site elsewhere cannot read the token, so it cannot sign a
  browser in as someone else). A form refused (wrong password, throttled, CSRF) comes back as the
  form again, with the reason in the person's language and the refusal's status.
- ``POST /login``: a form (``login``, ``password``, ``csrf``) or JSON (``{"login", "password"}``,
  ``Content-Type: application/json``, which no page elsewhere can send without our consent).
  Throttled per (login, address) and per address (``ari_app.auth.throttle``): too soon, 429
  ``login_throttled`` with ``Retry-After``. A success starts a new session (a new id whatever
  the browser had), sets ``__Host-session`` (Secure, HttpOnly, SameSite=Strict, Path=/) and
  answers JSON (with the CSRF token) or, for the form, a redirect to ``/account``.
- ``POST /logout``: ends the session and closes its websockets; CSRF token in ``X-CSRF-Token``
  or the form's ``csrf`` field.
- ``GET /auth/session``: who is signed in, and the session's CSRF token (``no-store``).
- ``GET /account``: who is signed in (its script asks ``/auth/session``), in their branch's locale.
- ``GET /set-password``: the page a password link opens; the code travels in the link's
  fragment (never sent to a server), the page's script moves it into the form and out of the
  address bar. ``POST /set-password``: ``code`` and ``password`` in the body; the page's script
  shows a refusal by its stable id, in the page's language.

No session id, code or password ever travels in a URL, and none is logged.
"""

from __future__ import annotations

import gettext
import hmac
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.auth import CSRF_HEADER, SESSION_COOKIE, Gate, check_csrf
from ari_app.api.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from ari_app.api.transport import client_address
from ari_app.auth.accounts import Accounts
from ari_app.auth.passwords import password_problem
from ari_app.auth.secret_ids import new_secret
from ari_app.i18n.pages import Pages

LOGIN_COOKIE = "__Host-login"
NO_STORE = {"Cache-Control": "no-store"}


def _cookie(response: web.StreamResponse, name: str, value: str) -> None:
    """A ``__Host-`` cookie: Secure, Path=/, no Domain, so only this origin over HTTPS gets it."""
    response.set_cookie(name, value, secure=True, httponly=True, samesite="Strict", path="/")


async def _credentials(request: web.Request) -> tuple[str, str, bool]:
    """(login, password, came as a form) from a form or a JSON body."""
    if request.content_type == "application/json":
        body = await inputs.json_object(request)
        form = False
    elif request.content_type == "application/x-www-form-urlencoded":
        body = dict(await request.post())
        sent, expected = body.get("csrf"), request.cookies.get(LOGIN_COOKIE)
        if (
            not isinstance(sent, str)
            or not expected
            or not hmac.compare_digest(sent.encode(), expected.encode())
        ):
            raise Forbidden("csrf_refused", "reload the sign-in page and try again")
        form = True
    else:
        raise BadRequest("bad_content_type", "send a form or application/json")
    login, password = body.get("login"), body.get("password")
    if not isinstance(login, str) or not isinstance(password, str) or not login or not password:
        raise BadRequest("bad_credentials", "send login and password")
    return inputs.text("login", login, inputs.MAX_ID), password[:1024], form


def refusal_text(error: ApiError, translations: gettext.NullTranslations) -> str:
    """What a refused sign-in form tells the person, in their language."""
    _, ngettext = translations.gettext, translations.ngettext
    if error.error_id == "login_throttled":
        seconds = int(error.headers.get("Retry-After", "60"))
        return ngettext(
            "Too many wrong passwords: try again in %(num)s second.",
            "Too many wrong passwords: try again in %(num)s seconds.",
            seconds,
        ) % {"num": seconds}
    texts = {
        "login_failed": _("Wrong login or password."),
        "csrf_refused": _("The sign-in form had expired: try again."),
        "bad_credentials": _("Enter your login and password."),
    }
    return texts.get(error.error_id) or _("Signing in failed: try again.")


def login_routes(
    accounts: Accounts,
    gate: Gate,
    clock: Callable[[], datetime],
    pages: Pages,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[web.RouteDef]:
    """``monotonic``: the throttle's clock (tests inject one)."""

    def login_form(
        request: web.Request, status: int = 200, problem: str = "", login: str = "", **headers: str
    ) -> web.Response:
        token = new_secret()
        response = pages.render(
            request, "auth/login.html", status=status, csrf=token, problem=problem, login=login
        )
        response.headers.update(headers)
        _cookie(response, LOGIN_COOKIE, token)
        return response

    async def show_login(request: web.Request) -> web.Response:
        return login_form(request)

    async def login(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/x-www-form-urlencoded":
            return await sign_in(request)
        try:
            return await sign_in(request)
        except ApiError as error:
            where = pages.where(request)
            problem = refusal_text(error, pages.translations(where))
            login = (await request.post()).get("login")  # read once already: aiohttp keeps it
            again = login[: inputs.MAX_ID] if isinstance(login, str) else ""
            return login_form(request, error.status, problem, again, **error.headers)

    async def sign_in(request: web.Request) -> web.StreamResponse:
        name, password, form = await _credentials(request)
        address = client_address(request) or ""
        wait = accounts.throttle.wait(name, address, monotonic())
        if wait > 0:
            seconds = str(math.ceil(wait))
            raise TooManyRequests(
                "login_throttled",
                f"too many wrong passwords: try again in {seconds} s",
                headers={"Retry-After": seconds},
            )
        found = await accounts.users.password_hash(name)
        user, stored = found if found is not None else (None, None)
        ok = await accounts.passwords.verify_off_loop(stored, password)
        now = clock()
        if not ok or user is None or user.disabled:
            accounts.throttle.failed(name, address, monotonic())
            await accounts.audit.record("login_failed", None, now, subject=name, address=address)
            raise Unauthenticated("login_failed", "wrong login or password")
        accounts.throttle.succeeded(name, address)
        old = request.cookies.get(SESSION_COOKIE)
        if old:  # a new id at every sign-in: a planted id never becomes a signed-in one
            previous = await accounts.sessions.find(old, now)
            if previous is not None:
                await accounts.sessions.end(previous.id_hash, now)
        agent = request.headers.get("User-Agent", "")
        session = await accounts.sessions.start(user.id, address, agent, now)
        await accounts.audit.record("login", f"user:{user.login}", now, address=address)
        response: web.StreamResponse
        if form:
            response = _see_other("/account")
        else:
            body = _who(user.login, user.role, user.admin_login, user.branch, session.csrf_token)
            response = web.json_response(
                {**body, "expires_at": session.expires_at.isoformat()}, headers=NO_STORE
            )
        _cookie(response, SESSION_COOKIE, session.session_id)
        response.del_cookie(LOGIN_COOKIE, path="/", secure=True, samesite="Strict")
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        principal, session = await gate.identify(request)
        form = request.content_type == "application/x-www-form-urlencoded"
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and form:
            field = (await request.post()).get("csrf")
            sent = field if isinstance(field, str) else None
        if session is None:
            raise BadRequest("not_a_session", "sign out ends a console session; a token has none")
        check_csrf(request, session, sent)
        now = clock()
        await accounts.sessions.end(session.id_hash, now)
        await accounts.sockets.close_session(session.id_hash)
        await accounts.audit.record("logout", principal.actor, now, address=client_address(request))
        response: web.StreamResponse = (
            _see_other("/login") if form else web.json_response({"signed_out": True})
        )
        response.del_cookie(SESSION_COOKIE, path="/", secure=True, samesite="Strict")
        return response

    async def whoami(request: web.Request) -> web.Response:
        principal, session = await gate.identify(request)
        if session is None:
            raise NotFound("not_a_session", "this is a token, not a console session")
        body = _who(
            principal.name, principal.role, principal.admin_login, principal.branch, session.csrf_token
        )
        return web.json_response({**body, "expires_at": session.expires_at.isoformat()}, headers=NO_STORE)

    async def show_account(request: web.Request) -> web.Response:
        branch = None
        if request.cookies.get(SESSION_COOKIE):  # their branch's language; the script asks who
            try:
                branch = (await gate.identify(request))[0].branch
            except ApiError:
                return _see_other("/login")
        return pages.render(request, "auth/account.html", branch=branch)

    async def show_set_password(request: web.Request) -> web.Response:
        min_length = accounts.settings.min_password_length
        return pages.render(request, "auth/set-password.html", min_length=min_length)

    async def set_password(request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            body: dict[str, Any] = await inputs.json_object(request)
        else:
            body = dict(await request.post())
        code, password = body.get("code"), body.get("password")
        if not isinstance(code, str) or not isinstance(password, str) or not code:
            raise BadRequest("bad_code", "send code and password")
        now = clock()
        user = await accounts.users.link_user(code.strip(), now)
        if user is None:
            raise Forbidden("bad_code", "this link is unknown, used or expired: ask for a new one")
        problem = password_problem(password, user.login, accounts.settings.min_password_length)
        if problem is not None:
            raise BadRequest("weak_password", f"password: {problem}")
        hashed = await accounts.passwords.hash_off_loop(password)
        done = await accounts.users.use_link(code.strip(), hashed, now)
        if done is None:
            raise Forbidden("bad_code", "this link is unknown, used or expired: ask for a new one")
        address = client_address(request)
        await accounts.audit.record("password_set", f"user:{done.login}", now, address=address)
        if request.content_type == "application/json":
            return web.json_response({"login": done.login, "password_set": True})
        return _see_other("/login")

    return [
        web.get("/login", show_login),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/account", show_account),
        web.get("/auth/session", whoami),
        web.get("/set-password", show_set_password),
        web.post("/set-password", set_password),
    ]


def _see_other(where: str) -> web.Response:
    """Where a form goes next (303: the browser follows with a GET)."""
    return web.Response(status=303, headers={"Location": where, **NO_STORE})


def _who(login: str, role: str | None, admin: str | None, branch: str | None, csrf: str) -> dict[str, Any]:
    return {"login": login, "role": role, "admin_login": admin, "branch": branch, "csrf_token": csrf}
