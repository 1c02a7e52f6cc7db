"""Pages: whose locale, zone and money a page gets, its page data, the server's formats, and
``/assets/{area}/{name}`` (types, caching, nothing outside a ``static`` folder)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from ari_app.api.auth import PRINCIPAL
from ari_app.api.http import root_app
from ari_app.api.transport import TransportPolicy
from ari_app.auth.principal import Principal
from ari_app.config import Settings, parse_settings
from ari_app.i18n.assets import asset_path, asset_routes
from ari_app.i18n.catalogs import LOCALE_DIR
from ari_app.i18n.formats import Formats
from ari_app.i18n.locales import formats_locale
from ari_app.i18n.pages import Pages, Where, where_of

Client = TestClient[web.Request, web.Application]
_X = {"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "kyiv"}


def _settings(i18n: dict[str, str] | None = None) -> Settings:
    branches = [
        {"id": "kyiv", "name": "K", "timezone": "Europe/Kyiv", "locale": "uk_UA", "currency": "UAH",
         "dids": [{"number": "5551234"}]},
        {"id": "nyc", "name": "N", "timezone": "America/New_York"},
    ]  # fmt: skip
    return parse_settings({"version": 1, "i18n": i18n or {}, "branches": branches, "admins": [_X]}, "t")


@pytest.mark.parametrize(
    ("i18n", "branch", "expected"),
    [
        ({}, "kyiv", Where("uk_UA", "Europe/Kyiv", "UAH")),
        ({}, "nyc", Where("en_US", "America/New_York", "USD")),
        ({}, None, Where("en_US", "UTC", "USD")),  # two zones among the branches: UTC
        ({"timezone": "Europe/Madrid", "locale": "es_ES", "currency": "EUR"}, None, Where("es_ES", "Europe/Madrid", "EUR")),
        ({"locale": "es_ES"}, "nyc", Where("es_ES", "America/New_York", "USD")),
        ({}, "gone", Where("en_US", "UTC", "USD")),  # a branch no longer configured
    ],
)  # fmt: skip
def test_a_page_is_in_its_branchs_locale_zone_and_money(
    i18n: dict[str, str], branch: str | None, expected: Where
) -> None:
    settings = _settings(i18n)
    assert where_of(settings.i18n, settings.branches, branch) == expected


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """Pages with a Ukrainian branch, its catalog compiled into ``tmp_path``."""
    shutil.copy(LOCALE_DIR / "messages.pot", tmp_path)
    ukrainian = Catalog(locale="uk")
    ukrainian.add("Manager", "Менеджер")
    ukrainian.add("Sign in", "Увійти")
    (tmp_path / "uk" / "LC_MESSAGES").mkdir(parents=True)
    with (tmp_path / "uk" / "LC_MESSAGES" / "messages.mo").open("wb") as fp:
        write_mo(fp, ukrainian)
    pages = Pages(_settings(), directory=tmp_path)

    @web.middleware
    async def as_someone(request: web.Request, handler: Any) -> web.StreamResponse:
        if "X-Branch" in request.headers:  # as a gate's policy does for a signed-in admin
            request[PRINCIPAL] = Principal("user", "x", "admin", "x", request.headers["X-Branch"])
        return await handler(request)

    async def page(request: web.Request) -> web.Response:
        branch = request.query.get("branch")
        data = json.loads(request.query.get("data", "{}"))
        return pages.render(
            request, "auth/login.html", branch=branch, data=data, csrf="c", problem="", login=""
        )

    app = root_app(TransportPolicy(), 1024)
    app.middlewares.append(as_someone)
    app.add_routes([web.get("/page", page), *asset_routes()])
    async with TestClient(TestServer(app)) as c:
        yield c


def _data(html: str) -> dict[str, Any]:
    found = re.search(r'id="page-data">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("", {}, ("en-US", "UTC", "USD", "Manager", "Sign in")),
        # the signed-in person's branch
        ("", {"X-Branch": "kyiv"}, ("uk-UA", "Europe/Kyiv", "UAH", "Менеджер", "Увійти")),
        # the page's branch first
        ("?branch=nyc", {"X-Branch": "kyiv"}, ("en-US", "America/New_York", "USD", "Manager", "Sign in")),
    ],
)
async def test_the_page_data_names_the_locale_zone_and_money(
    client: Client, query: str, headers: dict[str, str], expected: tuple[str, str, str]
) -> None:
    r = await client.get("/page" + query, headers=headers)
    html = await r.text()
    data = _data(html)
    assert (data["locale"], data["timezone"], data["currency"]) == expected[:3]
    assert f'<html lang="{expected[0]}">' in html and r.headers["Cache-Control"] == "no-store"
    assert data["messages"]["Manager"] == expected[3]  # a script's message
    assert f"<h1>{expected[4]}</h1>" in html  # the template's


async def test_the_handlers_data_travels_escaped_and_may_not_take_the_pages_own_keys(client: Client) -> None:
    sneaky = {"note": "</script><script>alert(1)</script>", "count": 3}
    r = await client.get("/page", params={"data": json.dumps(sneaky)})
    html = await r.text()
    assert "<script>alert" not in html and _data(html)["note"] == sneaky["note"]
    assert _data(html)["count"] == 3
    with pytest.raises(ValueError, match="locale"):
        Pages().page_data(Where("en_US", "UTC", "USD"), {"locale": "ru-RU"})


@pytest.mark.parametrize(
    ("path", "status", "content_type"),
    [
        ("/assets/i18n/i18n.js", 200, "text/javascript"),
        ("/assets/auth/account.js", 200, "text/javascript"),
        ("/assets/auth/auth.css", 200, "text/css"),
        ("/assets/auth/login.html", 404, None),  # a template, not an asset
        ("/assets/auth/..%2Fpasswords.py", 404, None),
        ("/assets/auth/%2E%2E%2Fcommon-passwords.txt", 404, None),
        ("/assets/store/anything.js", 404, None),  # not an area with assets
        ("/assets/auth/nothing.js", 404, None),
        ("/assets/auth/Account.JS", 404, None),
    ],
)
async def test_assets(client: Client, path: str, status: int, content_type: str | None) -> None:
    r = await client.get(path)
    assert r.status == status, await r.text()
    if content_type is not None:
        assert r.content_type == content_type and r.headers["Cache-Control"] == "no-cache"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        again = await client.get(path, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status == 304 and await again.read() == b""


def test_an_asset_name_never_leaves_its_static_folder() -> None:
    assert asset_path("auth", "auth.css") is not None
    for area, name in (
        ("auth", "../x.js"),
        ("auth", "a/b.js"),
        ("..", "x.js"),
        ("auth", ".js"),
        ("auth", "x.py"),
    ):
        assert asset_path(area, name) is None


WHEN = datetime(2026, 12, 7, 20, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "zone", "currency", "expected"),
    [
        ("en_US", "America/New_York", "USD", ("Dec 7, 2026, 3:05\u202fPM", "1,234,567.5", "12.5%", "-$120.50")),
        ("ru_RU", "Europe/Moscow", "RUB", ("7 дек. 2026\u202fг., 23:05", "1\xa0234\xa0567,5", "12,5\xa0%", "-120,50\xa0₽")),
        ("uk_UA", "Europe/Kyiv", "UAH", ("7 груд. 2026\u202fр., 22:05", "1\xa0234\xa0567,5", "12,5%", "-120,50\xa0₴")),
        ("es_ES", "Europe/Madrid", "EUR", ("7 dic 2026, 21:05", "1.234.567,5", "12,5\xa0%", "-120,50\xa0€")),
        ("zh_Hans_CN", "Asia/Shanghai", "CNY", ("2026年12月8日 04:05", "1,234,567.5", "12.5%", "-¥120.50")),
    ],
)  # fmt: skip
def test_the_servers_formats(locale: str, zone: str, currency: str, expected: tuple[str, ...]) -> None:
    f = Formats(formats_locale(locale), zone, currency)
    assert (f.date_time(WHEN), f.number(1234567.5), f.percent(0.125), f.money("-120.50")) == expected
    assert f.money(Decimal("0.10")) == f.money("0.1")  # from the text, never through a float


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (65, "1:05"), (3723, "1:02:03"), (-3, "0:00")])
def test_durations(seconds: int, text: str) -> None:
    assert Formats.duration(seconds) == text
