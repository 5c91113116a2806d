"""Circuit breaker and LRU cache semantics, on a controllable clock."""

from __future__ import annotations

from case_language.breaker import BreakerState, CircuitBreaker
from case_language.client import LruCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_half_opens_after_reset():
    clock, changes = Clock(), []
    breaker = CircuitBreaker(3, 5.0, clock=clock, on_change=changes.append)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_success()  # resets the count
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now = 5.0
    assert breaker.allow()  # the single trial
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # no second trial while the first runs
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 10.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_lru_cache_evicts_the_least_recently_used():
    cache = LruCache(2)
    cache.put("a", "en")
    cache.put("b", "de")
    assert cache.get("a") == "en"
    cache.put("c", "fr")
    assert cache.get("b") is None
    assert cache.get("a") == "en"
    assert cache.get("c") == "fr"
    disabled = LruCache(0)
    disabled.put("a", "en")
    assert disabled.get("a") is None
