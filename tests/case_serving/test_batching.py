"""The micro-batcher coalesces concurrent callers, keeps each caller's slice, bounds batch size."""

from __future__ import annotations

import asyncio

import pytest

from case_serving.batching import MicroBatcher

pytestmark = pytest.mark.anyio


async def _doubling(calls: list[list[int]], delay: float = 0.01):
    async def process(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(delay)
        return [item * 2 for item in items]

    return process


async def test_concurrent_callers_share_batches_and_get_their_own_results():
    calls: list[list[int]] = []
    batcher = MicroBatcher(await _doubling(calls), max_size=32)

    async def caller(i: int) -> list[int]:
        result, part = await batcher.submit([i, i + 100])
        return result[part]

    results = await asyncio.gather(*(caller(i) for i in range(20)))
    assert results == [[2 * i, 2 * (i + 100)] for i in range(20)]
    assert len(calls) < 20  # coalesced
    assert all(len(batch) <= 32 for batch in calls)
    assert sorted(x for batch in calls for x in batch) == sorted(x for i in range(20) for x in (i, i + 100))


async def test_a_single_caller_is_not_delayed_by_waiting():
    calls: list[list[int]] = []
    batcher = MicroBatcher(await _doubling(calls, delay=0), max_size=32, max_wait=0)
    result, part = await batcher.submit([1, 2, 3])
    assert result[part] == [2, 4, 6]
    assert calls == [[1, 2, 3]]


async def test_max_wait_gathers_late_arrivals_into_one_batch():
    calls: list[list[int]] = []
    batcher = MicroBatcher(await _doubling(calls, delay=0), max_size=8, max_wait=0.05)

    async def late(i: int, after: float):
        await asyncio.sleep(after)
        return await batcher.submit([i])

    await asyncio.gather(late(1, 0), late(2, 0.01), late(3, 0.02))
    assert calls == [[1, 2, 3]]


async def test_oversized_submission_runs_alone():
    """A submission larger than the batch size is one call of its own, never merged or split."""
    calls: list[list[int]] = []
    batcher = MicroBatcher(await _doubling(calls), max_size=4)
    (big, big_part), (small, small_part) = await asyncio.gather(batcher.submit(list(range(10))), batcher.submit([99]))
    assert big[big_part] == [2 * i for i in range(10)]
    assert small[small_part] == [198]
    assert calls == [list(range(10)), [99]]


async def test_failure_reaches_every_caller_of_the_batch_and_the_batcher_goes_on():
    failing = True

    async def process(items: list[int]) -> list[int]:
        await asyncio.sleep(0.01)
        if failing:
            raise RuntimeError("model exploded")
        return items

    batcher = MicroBatcher(process, max_size=8)
    outcomes = await asyncio.gather(*(batcher.submit([i]) for i in range(3)), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    failing = False
    result, part = await batcher.submit([7])
    assert result[part] == [7]
