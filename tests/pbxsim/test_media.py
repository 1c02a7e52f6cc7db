"""Playbacks and bridge recordings: states, order, lengths, and real WAV files."""

from __future__ import annotations

import asyncio
import re
import time
import wave
from io import BytesIO

from tests.pbxsim.harness import SimHarness, bridged, call_id_of, leg, place

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def playback_events(h: SimHarness) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["playback"]["media_uri"], e["playback"]["state"]) for e in h.events if "playback" in e
    ]


async def answered_caller(h: SimHarness) -> str:
    await h.connect()
    inbound = await place(h)
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    return inbound


async def test_playback_is_queued_then_plays_for_its_length(harness: SimHarness) -> None:
    h = harness
    inbound = await answered_caller(h)
    status, pb = await h.rest("POST", f"/channels/{inbound}/play", media="sound:hello-world")
    assert status == 201 and re.fullmatch(UUID, pb["id"])
    assert pb == {
        "id": pb["id"],
        "media_uri": "sound:hello-world",
        "target_uri": f"channel:{inbound}",
        "language": "en",
        "state": "queued",
    }
    started = await h.wait_for(lambda e: e["type"] == "PlaybackStarted")
    began = time.monotonic()
    assert started["playback"] == {**pb, "state": "playing"}
    assert (await h.rest("GET", f"/playbacks/{pb['id']}"))[1]["state"] == "playing"
    finished = await h.wait_for(lambda e: e["type"] == "PlaybackFinished")
    assert finished["playback"] == {**pb, "state": "done"}
    assert 1.2 <= (time.monotonic() - began) * h.sim.pbx.scale <= 4.0  # hello-world: 1.4 s
    assert await h.rest("GET", f"/playbacks/{pb['id']}") == (404, {"message": "Playback not found"})


async def test_playbacks_on_a_channel_take_turns(harness: SimHarness) -> None:
    h = harness
    inbound = await answered_caller(h)
    _, first = await h.rest("POST", f"/channels/{inbound}/play", media="sound:beep")
    status, second = await h.rest("POST", f"/channels/{inbound}/play/pb-2", media="sound:beep")
    assert status == 201 and second["id"] == "pb-2" and second["state"] == "queued"
    await h.wait_for(lambda e: e["type"] == "PlaybackFinished" and e["playback"]["id"] == "pb-2")
    ids = [(e["type"], e["playback"]["id"]) for e in h.events if "playback" in e]
    assert ids == [
        ("PlaybackStarted", first["id"]),
        ("PlaybackFinished", first["id"]),
        ("PlaybackStarted", "pb-2"),
        ("PlaybackFinished", "pb-2"),
    ]


async def test_several_media_in_one_playback(harness: SimHarness) -> None:
    h = harness
    inbound = await answered_caller(h)
    status, pb = await h.rest("POST", f"/channels/{inbound}/play", media="sound:beep,digits:12")
    assert status == 201 and pb["next_media_uri"] == "digits:12"
    await h.wait_for(lambda e: e["type"] == "PlaybackFinished")
    assert playback_events(h) == [
        ("PlaybackStarted", "sound:beep", "playing"),
        ("PlaybackContinuing", "sound:beep", "continuing"),
        ("PlaybackStarted", "digits:12", "playing"),
        ("PlaybackFinished", "digits:12", "done"),
    ]


async def test_stopping_a_playback(harness: SimHarness) -> None:
    h = harness
    inbound = await answered_caller(h)
    _, pb = await h.rest("POST", f"/channels/{inbound}/play", media="tone:ring")  # plays until stopped
    await h.wait_for(lambda e: e["type"] == "PlaybackStarted")
    assert await h.rest("DELETE", f"/playbacks/{pb['id']}") == (204, None)
    finished = await h.wait_for(lambda e: e["type"] == "PlaybackFinished")
    assert finished["playback"]["state"] == "done"
    assert (await h.rest("DELETE", f"/playbacks/{pb['id']}"))[0] == 404


async def test_caller_hangs_up_during_a_playback(harness: SimHarness) -> None:
    h = harness
    inbound = await answered_caller(h)
    await h.rest("POST", f"/channels/{inbound}/play", media="sound:vm-nobodyavail")
    await h.wait_for(lambda e: e["type"] == "PlaybackStarted")
    await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
    await h.wait_for(lambda e: e["type"] == "StasisEnd")
    await asyncio.sleep(0.1)
    # The playback ends early, as failed, before the channel leaves Stasis; with no leg made
    # for the caller (no originator subscription) StasisEnd is the last the app hears of it,
    # as recorded on Asterisk 22.10.1 (ChannelHangupRequest, PlaybackFinished, StasisEnd).
    types = [e["type"] for e in h.events]
    assert types.index("PlaybackFinished") < types.index("StasisEnd")
    assert playback_events(h)[-1] == ("PlaybackFinished", "sound:vm-nobodyavail", "failed")
    assert [e["type"] for e in h.of(inbound)][-2:] == ["ChannelHangupRequest", "StasisEnd"]
    assert not (await h.control("GET", "/control/state"))["channels"]
    record = await h.sim_call(await call_id_of(h, inbound))
    assert record["playbacks"] == ["sound:vm-nobodyavail"] and record["caller_result"] == "abandoned"


async def test_playback_needs_a_channel_that_can_take_media(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    # An inbound channel still ringing plays (as early media); an outbound one not yet up cannot.
    assert (await h.rest("POST", f"/channels/{inbound}/play", media="sound:beep"))[0] == 201
    leg_id = await leg(h, inbound, timeout=15)
    await h.wait_for(lambda e: e["type"] == "ChannelStateChange" and e["channel"]["id"] == leg_id)
    assert await h.rest("POST", f"/channels/{leg_id}/play", media="sound:beep") == (
        412,
        {"message": "Channel in invalid state"},
    )
    assert (await h.rest("POST", f"/channels/{inbound}/play"))[0] == 400  # media is required


async def test_playback_on_a_bridge(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, _, bridge_id = await bridged(h)
    status, pb = await h.rest("POST", f"/bridges/{bridge_id}/play", media="sound:beep")
    assert status == 201 and pb["target_uri"] == f"bridge:{bridge_id}"
    finished = await h.wait_for(lambda e: e["type"] == "PlaybackFinished")
    assert finished["playback"]["id"] == pb["id"] and finished["playback"]["state"] == "done"
    assert (await h.sim_call(await call_id_of(h, inbound)))["playbacks"] == ["sound:beep"]


async def test_bridge_recording_is_a_real_wav_of_the_simulated_length(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    _, _, bridge_id = await bridged(h)
    status, rec = await h.rest("POST", f"/bridges/{bridge_id}/record", name="r1", format="wav")
    assert status == 201
    assert rec == {"name": "r1", "format": "wav", "state": "queued", "target_uri": f"bridge:{bridge_id}"}
    started = await h.wait_for(lambda e: e["type"] == "RecordingStarted")
    assert started["recording"] == {**rec, "state": "recording"}
    assert (await h.rest("GET", "/recordings/live/r1"))[1]["state"] == "recording"
    began = time.monotonic()
    await asyncio.sleep(0.3)  # the talk being recorded: 3 simulated seconds at this time scale
    assert await h.rest("POST", "/recordings/live/r1/stop") == (204, None)
    talk = (time.monotonic() - began) * h.sim.pbx.scale
    done = await h.wait_for(lambda e: e["type"] == "RecordingFinished")
    assert done["recording"]["state"] == "done" and abs(done["recording"]["duration"] - talk) <= 1
    assert await h.rest("GET", "/recordings/live/r1") == (404, {"message": "Recording not found"})
    assert await h.rest("GET", "/recordings/stored/r1") == (200, {"name": "r1", "format": "wav"})
    assert (await h.rest("GET", "/recordings/stored"))[1] == [{"name": "r1", "format": "wav"}]
    async with h.http.get(h.sim.ari_url + "/recordings/stored/r1/file") as resp:
        assert resp.status == 200 and resp.content_type == "audio/wav"
        data = await resp.read()
    assert (h.sim.pbx.files.root / "r1.wav").read_bytes() == data
    with wave.open(BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert abs(w.getnframes() / 8000 - talk) < 0.5
        frames = w.readframes(800)
    assert frames.count(0) < len(frames) // 2  # a tone, not silence


async def test_recording_names_and_if_exists(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    _, _, bridge_id = await bridged(h)
    record = f"/bridges/{bridge_id}/record"
    assert (await h.rest("POST", record, name="r2", format="wav"))[0] == 201
    exists = {"message": "Recording 'r2' already exists and can not be overwritten"}
    assert await h.rest("POST", record, name="r2", format="wav", ifExists="overwrite") == (
        409,
        exists,
    )  # live
    await h.rest("POST", "/recordings/live/r2/stop")
    assert await h.rest("POST", record, name="r2", format="wav") == (409, exists)  # ifExists=fail by default
    assert (await h.rest("POST", record, name="r2", format="wav", ifExists="append"))[0] == 201
    await h.rest("POST", "/recordings/live/r2/stop")
    assert (await h.rest("POST", record, name="r2", format="mp3"))[0] == 422
    assert (await h.rest("POST", record, name="r3", format="wav", ifExists="sometimes"))[0] == 400
    assert (await h.rest("POST", record, name="../escape", format="wav"))[0] == 400
    assert (await h.rest("POST", record, format="wav"))[0] == 400
    assert (await h.rest("POST", "/bridges/nope/record", name="r4", format="wav"))[0] == 404
    assert await h.rest("DELETE", "/recordings/stored/r2") == (204, None)
    assert await h.rest("GET", "/recordings/stored/r2") == (404, {"message": "Recording not found"})
    assert (await h.rest("GET", "/recordings/stored/r2/file"))[0] == 404


async def test_recording_ends_at_max_duration_or_when_cancelled(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    _, _, bridge_id = await bridged(h)
    await h.rest("POST", f"/bridges/{bridge_id}/record", name="short", format="wav", maxDurationSeconds="2")
    done = await h.wait_for(lambda e: e["type"] == "RecordingFinished")
    assert done["recording"]["duration"] in (1, 2)
    await h.rest("POST", f"/bridges/{bridge_id}/record", name="gone", format="wav")
    assert await h.rest("DELETE", "/recordings/live/gone") == (204, None)
    cancelled = await h.wait_for(
        lambda e: e["type"] == "RecordingFinished" and e["recording"]["name"] == "gone"
    )
    assert cancelled["recording"]["state"] == "canceled"
    assert (await h.rest("GET", "/recordings/stored/gone"))[0] == 404
