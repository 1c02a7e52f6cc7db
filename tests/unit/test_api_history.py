"""``/api/calls`` (filters, cursor pages, detail), ``/api/calls/export.csv`` and ``/api/reports``
as the app serves them (SQLite; tests/store/test_call_history.py holds the figures on both
databases): refused parameters name themselves, the CSV is quoted, defused and streamed."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from ari_app.store import CallStore
from tests.api_client import AUTH, Client
from tests.store.history_seed import Seeder, call_row


async def get(client: Client, path: str, **params: str) -> tuple[int, Any]:
    async with client.get(path, params=params, headers=AUTH) as r:
        return r.status, await r.json()


NAIVE = "2026-03-07T00:00:00"
REFUSED = [
    ("/api/calls", {"from": NAIVE}, "bad_from"),
    ("/api/calls", {"until": "tomorrow"}, "bad_until"),
    ("/api/calls", {"from": "2026-03-08T00:00:00Z", "until": "2026-03-07T00:00:00Z"}, "bad_until"),
    ("/api/calls", {"cursor": "not-a-cursor"}, "bad_cursor"),
    ("/api/calls", {"cursor": "W10"}, "bad_cursor"),  # base64 of []: not ours either
    ("/api/calls", {"cursor": "A" * 300}, "bad_cursor"),
    ("/api/calls", {"limit": "0"}, "bad_limit"),
    ("/api/calls", {"limit": "501"}, "bad_limit"),
    ("/api/calls", {"outcome": "lost"}, "bad_outcome"),
    ("/api/calls", {"caller_type": "patient"}, "bad_caller_type"),
    ("/api/calls", {"opportunity": "maybe"}, "bad_opportunity"),
    ("/api/calls", {"linked": "yes"}, "bad_linked"),
    ("/api/calls", {"include_staff": "1"}, "bad_include_staff"),
    ("/api/calls", {"number": "call me"}, "bad_number"),
    ("/api/calls", {"number_suffix": "12"}, "bad_number_suffix"),
    ("/api/calls", {"number_suffix": "123456789"}, "bad_number_suffix"),
    ("/api/calls", {"brnach": "downtown"}, "unknown_parameter"),
    ("/api/calls/export.csv", {"from": NAIVE}, "bad_from"),
    ("/api/calls/export.csv", {"cursor": "x"}, "unknown_parameter"),
    ("/api/reports/conversion", {}, "bad_by"),
    ("/api/reports/conversion", {"by": "week"}, "bad_by"),
    ("/api/reports/conversion", {"by": "day", "from": NAIVE}, "bad_from"),
    ("/api/reports/missed", {"limit": "1000"}, "bad_limit"),
    ("/api/reports/missed", {"by": "day"}, "unknown_parameter"),
]


@pytest.mark.parametrize(("path", "params", "error"), REFUSED)
async def test_bad_parameters_are_400_naming_the_parameter(
    client: Client, path: str, params: dict[str, str], error: str
) -> None:
    status, body = await get(client, path, **params)
    assert status == 400 and body["error"] == error, body
    named = error.removeprefix("bad_") if error.startswith("bad_") else next(iter(params))
    assert named in body["detail"]


async def test_a_parameter_given_twice_is_refused(client: Client) -> None:
    async with client.get("/api/calls?branch=a&branch=b", headers=AUTH) as r:
        assert r.status == 400 and (await r.json())["error"] == "bad_branch"


async def test_pages_through_next_cursor(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    await seed.calls(*(call_row(f"k{i}", f"2026-03-07T1{i}:00:00+00:00") for i in range(5)))
    seen: list[str] = []
    params = {"limit": "2"}
    while True:
        status, body = await get(client, "/api/calls", **params)
        assert status == 200
        seen += [c["id"] for c in body["calls"]]
        if body["next_cursor"] is None:
            break
        params = {"limit": "2", "cursor": body["next_cursor"]}
    assert seen == ["k4", "k3", "k2", "k1", "k0"]


async def test_filters_reach_the_query(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    await seed.calls(
        call_row("n1", "2026-03-07T10:00:00+00:00", caller_number="202-555-0142", caller_e164="+12025550142"),
        call_row("n2", "2026-03-07T11:00:00+00:00", caller_kind="staff", in_statistics=False),
    )
    await seed.link("n1", "created", "2026-03-07T10:05:00+00:00")
    status, body = await get(client, "/api/calls", number="(202) 555-0142")  # read in the region, US
    assert status == 200 and [c["id"] for c in body["calls"]] == ["n1"]
    [call] = body["calls"]
    assert call["links"][0]["kind"] == "created" and call["caller_type"] == "unknown"
    assert [c["id"] for c in (await get(client, "/api/calls", include_staff="true"))[1]["calls"]] == [
        "n2",
        "n1",
    ]
    assert (await get(client, "/api/calls", linked="false"))[1]["calls"] == []
    assert [c["id"] for c in (await get(client, "/api/calls", number_suffix="0142"))[1]["calls"]] == ["n1"]


async def test_call_detail(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    await seed.calls(call_row("d1", "2026-03-07T10:00:00+00:00", opportunity="new", opportunity_reason="x"))
    await seed.comment("d1", "patient_to_book", "booking", "first visit", versions=3)
    await seed.link("d1", "moved", "2026-03-07T10:05:00+00:00")
    status, body = await get(client, "/api/calls/d1")
    assert status == 200
    assert body["comment"]["versions"] == 3 and body["comment"]["text"] == "first visit"
    assert (body["opportunity"], body["opportunity_reason"], body["opportunity_class"]) == ("new", "x", "new")
    [link] = body["links"]
    assert (link["kind"], link["booking_id"], link["doctor"]) == ("moved", "b-1", "Dr Ruiz")
    assert link["appointment_at"] == "2026-03-20T09:00:00+00:00" and body["legs"] == []
    assert (await get(client, "/api/calls/nope"))[1]["error"] == "call_not_found"


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_export_quotes_and_defuses_cells(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    await seed.calls(
        call_row("e1", "2026-03-07T10:00:00+00:00", caller_number="+1 202 555 0142", admin="@anna"),
        call_row("e2", "2026-03-07T11:00:00+00:00", caller_number="-1", ad_channel="=1+1"),
    )
    await seed.comment("e1", "patient_to_book", "booking", 'Said "hi", then\nasked; cost: €120')
    await seed.comment("e2", "other", "unknown", '=HYPERLINK("http://evil")')
    async with client.get("/api/calls/export.csv", params={"include_staff": "true"}, headers=AUTH) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        rows = read_csv(await r.read())
    head, e2, e1 = rows
    assert head[:3] == ["id", "started_at", "branch"] and head[-2:] == ["linked_bookings", "comment"]
    cols = dict(zip(head, e1, strict=True))
    assert cols["comment"] == 'Said "hi", then\nasked; cost: €120'  # quoting survives a round trip
    assert cols["caller_number"] == "'+1 202 555 0142" and cols["admin"] == "'@anna"
    assert cols["caller_e164"] == "'+12025550100" and cols["linked_bookings"] == "0"
    assert cols["started_at"] == "2026-03-07T10:00:00+00:00" and cols["caller_type"] == "patient_to_book"
    cols = dict(zip(head, e2, strict=True))
    assert cols["comment"] == '\'=HYPERLINK("http://evil")'
    assert (cols["caller_number"], cols["ad_channel"]) == ("'-1", "'=1+1")


async def test_an_empty_export_is_the_header(client: Client) -> None:
    async with client.get("/api/calls/export.csv", headers=AUTH) as r:
        assert r.status == 200 and len(read_csv(await r.read())) == 1


async def test_a_large_export_streams(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    total = 20_000
    for start in range(0, total, 5_000):
        await seed.calls(
            *(
                call_row(f"s{i:05d}", f"2026-03-07T10:00:{i % 60:02d}+00:00")
                for i in range(start, start + 5_000)
            )
        )
    async with client.get("/api/calls/export.csv", headers=AUTH) as r:
        assert r.status == 200 and r.headers.get("Transfer-Encoding") == "chunked"
        chunks = [chunk async for chunk in r.content.iter_chunked(64 * 1024)]
    rows = read_csv(b"".join(chunks))
    assert len(rows) == total + 1 and len({row[0] for row in rows[1:]}) == total
    assert len(chunks) > 1


async def test_reports_through_the_api(store: CallStore, client: Client) -> None:
    seed = Seeder(store.db)
    await seed.calls(
        call_row("r1", "2026-03-07T15:00:00+00:00", admin="anna", opportunity="new"),
        call_row("r2", "2026-03-08T03:30:00+00:00", admin="anna", opportunity="current"),
        call_row("r3", "2026-03-08T04:00:00+00:00", outcome="missed", opportunity="none"),
    )
    await seed.link("r1", "created", "2026-03-07T15:05:00+00:00")
    await seed.callback("r3", "new")
    status, body = await get(client, "/api/reports/conversion", by="day", branch="downtown")
    assert status == 200 and body["by"] == "day"
    assert body["rows"] == [{"key": "2026-03-07", "calls": 2, "converted": 1, "rate": 0.5}]  # New York
    assert body["total"] == {"calls": 2, "converted": 1, "rate": 0.5}
    status, body = await get(client, "/api/reports/missed")
    assert status == 200 and body["by_branch"] == [{"branch": "downtown", "calls": 1}] and body["total"] == 1
    [missed] = body["calls"]
    assert (missed["call_id"], missed["callback_status"]) == ("r3", "new")
