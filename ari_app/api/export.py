"""``/api/calls/export.csv``: the calls a filter selects as CSV, streamed page by page.

UTF-8 with a byte order mark (Excel reads the file as UTF-8 only with it), every field quoted
where CSV needs it, and no cell a spreadsheet would run: text starting with = + - @ (or a tab
or carriage return, which some spreadsheets skip before reading a formula) gets a leading '.
Phone numbers in E.164 ("+1...") carry it too: better a visible quote than a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence

import structlog
from aiohttp import web

from ari_app.store.history import ExportRow

log = structlog.get_logger(__name__)

COLUMNS = (
    "id",
    "started_at",
    "branch",
    "did",
    "ad_channel",
    "caller_number",
    "caller_e164",
    "caller_kind",
    "caller_type",
    "topic",
    "outcome",
    "admin",
    "wait_seconds",
    "talk_seconds",
    "opportunity",
    "linked_bookings",
    "comment",
)
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One field as text, defused if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def lines(rows: Sequence[ExportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; quotes only where needed
    for row in rows:
        writer.writerow(
            [
                cell(v)
                for v in (
                    row.id,
                    row.started_at,
                    row.branch,
                    row.did,
                    row.ad_channel,
                    row.caller_number,
                    row.caller_e164,
                    row.caller_kind,
                    row.caller_type,
                    row.topic,
                    row.outcome,
                    row.admin,
                    row.wait_seconds,
                    row.talk_seconds,
                    row.opportunity,
                    row.linked_bookings,
                    row.comment,
                )
            ]
        )
    return out.getvalue()


def header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(COLUMNS)
    return BOM + out.getvalue()


async def stream_csv(
    request: web.Request, pages: AsyncIterator[list[ExportRow]], filename: str
) -> web.StreamResponse:
    """Answer with the CSV of ``pages``. The first page is read before the answer starts, so a
    database out of reach is still a JSON 503; a failure after that can only cut the answer
    short (logged; the client sees an incomplete body, not a complete-looking file)."""
    first = await anext(pages, None)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(header().encode())
    if first is not None:
        await response.write(lines(first).encode())
        try:
            async for page in pages:
                await response.write(lines(page).encode())  # waits while the client is slow
        except Exception as exc:
            # Headers and rows are out: no error answer can follow. Dropping the connection
            # leaves the chunked body unterminated, which every client reads as a failure.
            log.exception("calls_export_cut_short")
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("the export was cut short") from exc
    await response.write_eof()
    return response
