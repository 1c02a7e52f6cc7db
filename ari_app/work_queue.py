"""One ordered queue and one worker task: how facts and recordings are handled off the call path."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkQueue(Generic[T]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue()

    def submit(self, item: T) -> None:
        self._queue.put_nowait(item)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def drain(self, timeout: float) -> bool:
        """Wait until every submitted item is handled; False on timeout."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.handle(item)
            finally:
                self._queue.task_done()

    async def handle(self, item: T) -> None:
        raise NotImplementedError
