"""AriClient failures and transport: error mapping, timeouts, size limits, pooling, credentials."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from ari_app.ari.client import (
    AriBadRequest,
    AriBadResponse,
    AriClient,
    AriConflict,
    AriError,
    AriNotFound,
    AriPreconditionFailed,
    AriUnavailable,
    AriUnprocessable,
)
from tests.ari.fake_ari import APP, CH, PASSWORD, USER, FakeAri, LogEntries, Reply, ok

ERRORS = [
    (400, {"message": "Channel not found"}, AriBadRequest, "Channel not found"),
    (404, {"message": "Channel not found"}, AriNotFound, "Channel not found"),
    (409, {"message": "Channel not in Stasis application"}, AriConflict, "Channel not in Stasis application"),
    (412, {"message": "Channel in invalid state"}, AriPreconditionFailed, "Channel in invalid state"),
    (422, {"message": "Channel not in this bridge"}, AriUnprocessable, "Channel not in this bridge"),
    (500, {"message": "Allocation failed"}, AriUnavailable, "Allocation failed"),
    (503, None, AriUnavailable, "Service Unavailable"),
    (401, {"message": "Authentication required"}, AriError, "Authentication required"),
    (302, None, AriError, "Found"),
]


@pytest.mark.parametrize(("status", "body", "cls", "message"), ERRORS)
async def test_error_statuses_map_to_classes_with_asterisks_message(
    fake: FakeAri, client: AriClient, status: int, body: Any, cls: type[AriError], message: str
) -> None:
    fake.reply("POST", f"/channels/{CH}/dial", Reply(status=status, json=body))
    with pytest.raises(AriError) as caught:
        await client.dial(CH, caller="1795344924.7")
    err = caught.value
    assert type(err) is cls
    assert (err.method, err.path, err.status, err.message) == ("POST", "/channels/{id}/dial", status, message)
    assert str(err) == f"POST /channels/{{id}}/dial: {status} {message}"
    assert CH not in str(err)  # route template, not ids


async def test_a_non_json_error_body_is_not_quoted(fake: FakeAri, client: AriClient) -> None:
    page = b"<html>proxy error for user clinic</html>"
    fake.reply("GET", "/asterisk/ping", Reply(status=502, body=page, content_type="text/html"))
    with pytest.raises(AriUnavailable) as caught:
        await client.ping()
    assert caught.value.message == "Bad Gateway" and "html" not in str(caught.value)


@pytest.mark.parametrize(
    ("path", "call", "body", "expected"),
    [
        (
            f"/channels/{CH}",
            lambda c: c.get_channel(CH),
            {"id": CH},
            "Channel: Object missing required field `name`",
        ),
        (
            "/channels",
            lambda c: c.list_channels(),
            [{"id": 1}],
            "list[Channel]: Expected `str`, got `int` - at `$[0].id`",
        ),
        ("/bridges", lambda c: c.create_bridge(), "not json", "Bridge: Expected `object`, got `str`"),
    ],
)
async def test_a_body_that_does_not_match_names_model_and_field(
    fake: FakeAri,
    client: AriClient,
    path: str,
    call: Callable[[AriClient], Awaitable[Any]],
    body: Any,
    expected: str,
) -> None:
    method = "GET" if path != "/bridges" else "POST"
    fake.reply(method, path, ok(body))
    with pytest.raises(AriBadResponse) as caught:
        await call(client)
    assert f"response is not a valid {expected}" in caught.value.message
    assert caught.value.status == 200


async def test_a_slow_asterisk_times_out_as_unavailable(fake: FakeAri) -> None:
    fake.reply("POST", f"/channels/{CH}/answer", Reply(delay=2.0))
    client = AriClient(fake.url, USER, PASSWORD, APP, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(AriUnavailable, match=r"timed out after 0\.2 s") as caught:
        await client.answer(CH)
    assert time.monotonic() - started < 1.0
    assert caught.value.status is None and caught.value.path == "/channels/{id}/answer"
    await client.close()


async def test_an_unreachable_asterisk_is_unavailable() -> None:
    client = AriClient("http://127.0.0.1:1/ari", USER, PASSWORD, APP, timeout=1.0)
    with pytest.raises(AriUnavailable, match="cannot connect") as caught:
        await client.ping()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    await client.close()


async def test_download_returns_bytes_and_refuses_more_than_max_bytes(
    fake: FakeAri, client: AriClient
) -> None:
    wav = b"RIFF" + bytes(5000)
    fake.reply("GET", "/recordings/stored/rec-1/file", Reply(status=200, body=wav, content_type="audio/wav"))
    fake.reply("GET", "/recordings/stored/rec-2/file", Reply(status=200, body=wav, chunked=True))
    assert await client.download_stored_recording("rec-1", max_bytes=5004) == wav
    assert await client.download_stored_recording("rec-2", max_bytes=5004) == wav
    for name in ("rec-1", "rec-2"):  # declared length, then a chunked body counted as it comes
        with pytest.raises(AriBadResponse, match="larger than 4000 bytes"):
            await client.download_stored_recording(name, max_bytes=4000)
    gone = Reply(status=404, json={"message": "Recording not found"})
    fake.reply("GET", "/recordings/stored/gone/file", gone)
    with pytest.raises(AriNotFound, match="Recording not found"):
        await client.download_stored_recording("gone", max_bytes=4000)


async def test_requests_reuse_one_kept_alive_connection(fake: FakeAri, client: AriClient) -> None:
    for _ in range(5):
        await client.answer(CH)
    assert len({r.client_port for r in fake.requests}) == 1


async def test_on_request_gets_route_templates_status_and_time(fake: FakeAri) -> None:
    seen: list[tuple[str, str, int, float]] = []

    def record(method: str, route: str, status: int, seconds: float) -> None:
        seen.append((method, route, status, seconds))

    client = AriClient(fake.url, USER, PASSWORD, APP, on_request=record)
    fake.reply("DELETE", f"/channels/{CH}", Reply(status=404, json={"message": "Channel not found"}))
    await client.answer(CH)
    with pytest.raises(AriNotFound):
        await client.hangup(CH)
    await client.close()
    unreachable = AriClient("http://127.0.0.1:1/ari", USER, PASSWORD, APP, on_request=record)
    with pytest.raises(AriUnavailable):
        await unreachable.ping()
    await unreachable.close()
    assert [s[:3] for s in seen] == [
        ("POST", "/channels/{id}/answer", 204),
        ("DELETE", "/channels/{id}", 404),
        ("GET", "/asterisk/ping", 0),  # no response at all
    ]
    assert all(0 <= s[3] < 2 for s in seen)


async def test_a_failing_metrics_hook_does_not_fail_the_request(fake: FakeAri) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("metrics bug")

    client = AriClient(fake.url, USER, PASSWORD, APP, on_request=broken)
    await client.answer(CH)
    await client.close()
    assert len(fake.requests) == 1


async def test_given_session_is_used_and_left_open(fake: FakeAri) -> None:
    async with aiohttp.ClientSession() as session:
        client = AriClient(fake.url, USER, PASSWORD, APP, session=session)
        await client.answer(CH)
        await client.close()
        assert not session.closed
        with pytest.raises(AriUnavailable, match="client closed"):
            await client.answer(CH)


async def test_credentials_only_in_the_authorization_header(fake: FakeAri, logs: LogEntries) -> None:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    client = AriClient(fake.url + "/", USER, PASSWORD, APP, timeout=0.3)
    fake.reply("GET", f"/channels/{CH}", Reply(status=404, json={"message": "Channel not found"}))
    fake.reply("GET", "/bridges", ok([{"broken": True}]))
    fake.reply("GET", "/asterisk/ping", Reply(delay=1.0))
    errors: list[AriError] = []
    await client.answer(CH)
    for call in (client.get_channel(CH), client.list_bridges(), client.ping()):
        with pytest.raises(AriError) as caught:
            await call
        errors.append(caught.value)
    await client.close()
    for sent in fake.requests:
        assert sent.headers["Authorization"] == f"Basic {token}"
        assert PASSWORD not in sent.raw_path + json.dumps(sent.query)
    texts = [repr(client), *(f"{e!s} {e!r} {vars(e)}" for e in errors), repr(logs)]
    assert logs  # the failures were logged, at debug
    for text in texts:
        assert PASSWORD not in text and token not in text


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as caught:
        AriClient(f"http://{USER}:{PASSWORD}@127.0.0.1:8088/ari", USER, PASSWORD, APP)
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ValueError, match="http or https"):
        AriClient("ftp://127.0.0.1/ari", USER, PASSWORD, APP)


async def test_concurrent_requests_share_the_pool(fake: FakeAri, client: AriClient) -> None:
    fake.reply("POST", f"/channels/{CH}/answer", Reply(delay=0.1))
    started = time.monotonic()
    await asyncio.gather(*(client.answer(CH) for _ in range(10)))
    assert time.monotonic() - started < 0.9  # in parallel, not one after another
    assert len(fake.requests) == 10
