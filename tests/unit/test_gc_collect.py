"""The app's collection of the young and middle generations: with the thresholds ``run`` sets,
a call's cycles that outlived one young collection wait for it (else about 10,000 calls)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from ari_app.app import collect_garbage


@pytest.fixture
def app_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(20_000, 50, 100)  # as ``ari_app run`` sets them
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def test_the_middle_generation_is_collected_every_interval() -> None:
    generations: list[int] = []
    task = asyncio.create_task(collect_garbage(0.01, lambda g: generations.append(g) or 0))
    await asyncio.sleep(0.055)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert 3 <= len(generations) <= 6
    assert set(generations) == {1}


class Leg:
    """A call's object in a cycle, as an exception caught in a frame makes one."""

    def __init__(self) -> None:
        self.me = self


def test_a_cycle_that_outlived_a_young_collection_waits_for_the_middle_one(app_thresholds: None) -> None:
    gc.collect()
    leg = Leg()
    gone = weakref.ref(leg)
    gc.collect(0)  # the call is still up: its objects move to the middle generation
    del leg  # the call ends; its cycle is garbage now
    gc.collect(0)
    assert gone() is not None, "young collections alone keep it"
    gc.collect(1)
    assert gone() is None
