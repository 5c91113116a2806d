"""Coalesce concurrent requests into one call of a batch function.

Callers ``submit`` their items and await their share of the result. One worker task takes every
item that is waiting (up to ``max_size``), optionally waits up to ``max_wait`` for more while the
batch is not full, runs the batch function once, and hands each caller its slice. Batches grow
with load by themselves: while one batch runs, the next one gathers. At concurrency 1 there is
nothing to wait for, and with ``max_wait=0`` nothing is waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Pending(Generic[T, R]):
    items: Sequence[T]
    future: asyncio.Future[tuple[R, slice]]


class MicroBatcher(Generic[T, R]):
    """Runs ``process`` over the items of many callers at once.

    Args:
        process: Takes the items of a batch, in submission order; returns one result for the
            whole batch (each caller gets it with the slice of its own items).
        max_size: Most items in one batch; a single submission larger than this runs alone.
        max_wait: Seconds to wait for more items once a batch has started gathering.
    """

    def __init__(self, process: Callable[[list[T]], Awaitable[R]], max_size: int = 32, max_wait: float = 0.0) -> None:
        self._process = process
        self._max_size = max(1, max_size)
        self._max_wait = max_wait
        self._queue: list[_Pending[T, R]] = []
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> tuple[R, slice]:
        """Queue ``items``; return the batch result and the slice of it that belongs to them."""
        future: asyncio.Future[tuple[R, slice]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(items, future))
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            if self._max_wait > 0 and self._size() < self._max_size:
                await self._gather()
            batch = self._take()
            items = [item for pending in batch for item in pending.items]
            try:
                result = await self._process(items)
            except Exception as error:  # noqa: BLE001 - every caller of the batch gets the error
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            start = 0
            for pending in batch:
                end = start + len(pending.items)
                if not pending.future.done():
                    pending.future.set_result((result, slice(start, end)))
                start = end
            await asyncio.sleep(0)  # let arrivals that came in during the batch queue up
        self._arrived.clear()

    async def _gather(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while self._size() < self._max_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    def _size(self) -> int:
        return sum(len(pending.items) for pending in self._queue)

    def _take(self) -> list[_Pending[T, R]]:
        batch: list[_Pending[T, R]] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].items) <= self._max_size):
            pending = self._queue.pop(0)
            batch.append(pending)
            size += len(pending.items)
        return batch
