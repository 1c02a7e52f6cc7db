"""``Pages.render``: the HTML pages people read, from Jinja2 templates in their locale.

Template names are ``"<area>/<file>"``, found at ``ari_app/<area>/templates/<file>``. Every page
extends ``i18n/base.html``, which writes the page data its scripts read (``i18n.js``'s ``page``)
into ``<script type="application/json" id="page-data">``: a data block, never executed, so the
Content-Security-Policy (no inline script) holds. It carries ``locale`` (BCP 47), ``timezone``
(IANA), ``currency`` (ISO 4217), ``messages`` (every script message, translated) and the
handler's ``data``.

Whose locale: the ``branch`` the page is about, else the signed-in person's branch, else
``[i18n]``'s. Autoescape is on; templates translate with ``{{ _("Text") }}``,
``{{ _("Hello %(name)s", name=x) }}`` and ``{% trans %}`` (newstyle gettext: placeholders are
filled after translating, and escaped).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ari_app.api.auth import principal_of
from ari_app.config import Branch, I18nSettings, Settings
from ari_app.i18n.catalogs import LOCALE_DIR, Catalogs
from ari_app.i18n.formats import Formats
from ari_app.i18n.locales import bcp47, formats_locale

_ROOT = Path(__file__).resolve().parent.parent  # the ari_app package
_AREA = re.compile(r"^[a-z][a-z0-9_]*$")
_FILE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*\.html$")
RESERVED = frozenset({"locale", "timezone", "currency", "messages"})


class AreaLoader(jinja2.BaseLoader):
    """``"auth/login.html"`` → ``ari_app/auth/templates/login.html``."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        area, _, file = template.partition("/")
        if not _AREA.match(area) or not _FILE.match(file):
            raise jinja2.TemplateNotFound(template)
        path = _ROOT / area / "templates" / file
        try:
            source = path.read_text("utf-8")
        except OSError:
            raise jinja2.TemplateNotFound(template) from None
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.stat().st_mtime == mtime


@dataclass(frozen=True)
class Where:
    """A page's locale, zone and money."""

    locale: str
    timezone: str
    currency: str


def default_zone(i18n: I18nSettings, branches: list[Branch]) -> str:
    if i18n.timezone is not None:
        return i18n.timezone
    zones = {b.timezone for b in branches}
    return zones.pop() if len(zones) == 1 else "UTC"


def where_of(i18n: I18nSettings, branches: list[Branch], branch: str | None) -> Where:
    """The branch's locale, zone and currency (each defaulting to ``[i18n]``'s)."""
    found = next((b for b in branches if b.id == branch), None) if branch is not None else None
    if found is None:
        return Where(i18n.locale, default_zone(i18n, branches), i18n.currency)
    return Where(found.locale or i18n.locale, found.timezone, found.currency or i18n.currency)


def _environment(catalogs: Catalogs, locale: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=AreaLoader(),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(catalogs.get(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


class Pages:
    """Every configured locale's catalog is loaded here, at start: a missing ``.mo`` stops the
    app with the command to run (``ari_app.i18n.catalogs.CatalogMissing``)."""

    def __init__(self, settings: Settings | None = None, *, directory: Path = LOCALE_DIR) -> None:
        """``settings``: ``[i18n]`` and the branches; None: English, US dollars, UTC."""
        self.i18n = settings.i18n if settings is not None else I18nSettings()
        self.branches = list(settings.branches) if settings is not None else []
        locales = {self.i18n.locale} | {b.locale for b in self.branches if b.locale}
        self.catalogs = Catalogs.load(locales, directory)
        self._envs = {name: _environment(self.catalogs, name) for name in locales}

    def where(self, request: web.Request, branch: str | None = None) -> Where:
        if branch is None:
            principal = principal_of(request)
            branch = principal.branch if principal is not None else None
        return where_of(self.i18n, self.branches, branch)

    def formats(self, where: Where) -> Formats:
        return Formats(formats_locale(where.locale), where.timezone, where.currency)

    def translations(self, where: Where) -> gettext.NullTranslations:
        """The locale's ``gettext``/``ngettext``, for a sentence a handler writes itself (call
        them as ``_ = t.gettext; _("Literal text")`` so that ``extract`` finds the text)."""
        return self.catalogs.get(where.locale)

    def page_data(self, where: Where, data: dict[str, Any] | None) -> dict[str, Any]:
        clash = RESERVED & set(data or {})
        if clash:
            raise ValueError(f"page data may not use the keys {sorted(clash)}: the page's own")
        return {
            "locale": bcp47(where.locale),
            "timezone": where.timezone,
            "currency": where.currency,
            "messages": self.catalogs.js(where.locale),
            **(data or {}),
        }

    def render(
        self,
        request: web.Request,
        template: str,
        *,
        branch: str | None = None,
        data: dict[str, Any] | None = None,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        """The page, ``no-store`` (a page may show patient data; its scripts and styles are
        cached apart). ``context``: the template's variables; ``data``: its scripts'."""
        where = self.where(request, branch)
        html = (
            self._envs[where.locale]
            .get_template(template)
            .render(
                lang=bcp47(where.locale),
                page_data=self.page_data(where, data),
                fmt=self.formats(where),
                **context,
            )
        )
        return web.Response(
            text=html, status=status, content_type="text/html", headers={"Cache-Control": "no-store"}
        )


PAGES = web.AppKey("pages", Pages)  # on the root app: request.config_dict[PAGES]


def pages_of(request: web.Request) -> Pages:
    """The app's ``Pages`` (set by ``build_api``), from a handler in any area."""
    return request.config_dict[PAGES]
