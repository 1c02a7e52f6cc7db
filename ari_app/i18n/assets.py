"""``GET /assets/{area}/{name}``: the pages' scripts, styles and pictures, from
``ari_app/<area>/static/<name>``.

Open to everyone: code and pictures, never data (the sign-in page needs its own before anyone is
signed in). Only the areas listed, only flat names of known types (no path can climb out of a
``static`` folder), each with its content type: ``nosniff`` is on, so a script served as
anything else would not run. ``no-cache`` with an ETag: the browser asks again on every load and
gets a 304 while the file is unchanged, so a new release's pages never run last release's code.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from aiohttp import web

from ari_app.api.errors import NotFound

AREAS = ("auth", "i18n", "screenpop", "wallboard")
CONTENT_TYPES = {
    "js": "text/javascript",  # classic and ES module scripts alike
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(js|css|svg|png)$")
_ROOT = Path(__file__).resolve().parent.parent  # the ari_app package
CACHE_CONTROL = "no-cache"


def asset_path(area: str, name: str) -> Path | None:
    """Where ``/assets/<area>/<name>`` is on disk, or None for anything not servable."""
    if area not in AREAS or not _NAME.match(name):
        return None
    return _ROOT / area / "static" / name


@cache
def _read(path: Path) -> tuple[bytes, str] | None:
    """The file and its ETag, read once (they change only with a new release)."""
    try:
        body = path.read_bytes()
    except OSError:
        return None
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def serve_asset(request: web.Request) -> web.Response:
    area, name = request.match_info["area"], request.match_info["name"]
    path = asset_path(area, name)
    found = _read(path) if path is not None else None
    if path is None or found is None:
        raise NotFound("not_found", f"no asset {area}/{name}")
    body, etag = found
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    content_type = CONTENT_TYPES[path.suffix.removeprefix(".")]
    charset = "utf-8" if content_type.startswith("text/") or content_type.endswith("+xml") else None
    return web.Response(body=body, content_type=content_type, charset=charset, headers=headers)


def asset_routes() -> list[web.RouteDef]:
    return [web.get("/assets/{area}/{name}", serve_asset)]
