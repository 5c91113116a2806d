"""A slow, failing or dead language service never fails a request; the breaker opens and closes."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from dev.processes import start
from tests.support.v2 import infer, infer_body, metric, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

#: Generous bound on one request whose language call has a 300 ms budget (machine is noisy).
BOUND_SECONDS = 2.5


def _case() -> str:
    # A new text each time: the cache must not answer for the service.
    return f"The keyboard of my laptop types wrong letters since the update, ticket {uuid.uuid4().hex[:6]}."


#: A slow service answers after this long: well past the bound, so a request that waited for it
#: instead of falling back within its budget fails the bound (and would say "pl", not "en").
SLOW_SECONDS = 10.0


def _set_mode(fault_language: str, mode: str, delay: float = SLOW_SECONDS) -> None:
    httpx.post(f"{fault_language}/control", json={"mode": mode, "delay": delay}).raise_for_status()


def _calls(fault_language: str) -> int:
    return httpx.get(f"{fault_language}/calls").json()["calls"]


def _wait_breaker(url: str, state: float, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while metric(url, "case_classifier_language_breaker_state") != state:
        assert time.monotonic() < deadline, f"breaker did not reach state {state}"
        time.sleep(0.1)


@pytest.fixture
def healthy(fault_language, fault_transformer):
    """Each test starts with a healthy service and a closed breaker."""
    _set_mode(fault_language, "ok")
    deadline = time.monotonic() + 10
    while metric(fault_transformer, "case_classifier_language_breaker_state") != 0:
        infer(fault_transformer, infer_body([_case()]))
        assert time.monotonic() < deadline
        time.sleep(0.2)
    yield
    _set_mode(fault_language, "ok")


@pytest.mark.parametrize("mode", ["slow", "error", "garbage", "close"])
def test_fault_is_answered_by_the_fallback_within_the_budget(
    fault_language, fault_transformer, healthy, mode, reliability
):
    _set_mode(fault_language, mode)
    fallbacks = metric(fault_transformer, "case_classifier_language_fallbacks_total")
    started = time.monotonic()
    response = infer(fault_transformer, infer_body([_case()]), timeout=30)
    elapsed = time.monotonic() - started
    out = outputs(response)
    assert elapsed < BOUND_SECONDS
    assert out["language"] == ["en"]  # the local fallback detected it
    assert out["label"] == ["keyboard_touchpad"]
    assert metric(fault_transformer, "case_classifier_language_fallbacks_total") == fallbacks + 1
    reliability.record(
        "Language service faults",
        {
            "slow": "slow (beyond the 300 ms budget)",
            "error": "500s",
            "garbage": "garbage bodies",
            "close": "connection closed",
        }[mode],
        1,
        f"200 by the local fallback within {BOUND_SECONDS} s",
    )


def test_breaker_opens_then_closes_when_the_service_is_back(fault_language, fault_transformer, healthy, reliability):
    opened = metric(fault_transformer, "case_classifier_language_breaker_transitions_total", {"state": "open"})
    _set_mode(fault_language, "error")
    for _ in range(3):
        assert outputs(infer(fault_transformer, infer_body([_case()])))["status"][0] in ("ok", "low_confidence")
    _wait_breaker(fault_transformer, 1)
    assert metric(fault_transformer, "case_classifier_language_breaker_transitions_total", {"state": "open"}) > opened
    # While open, the service is reached only by the breaker's trial calls: none, unless the load
    # of a busy machine stretched these requests past the reset period (each trial is counted).
    transitions = "case_classifier_language_breaker_transitions_total"
    trials_before = metric(fault_transformer, transitions, {"state": "half_open"})
    skipped = metric(fault_transformer, "case_classifier_language_calls_total", {"outcome": "skipped_open_breaker"})
    calls = _calls(fault_language)
    for _ in range(3):
        infer(fault_transformer, infer_body([_case()]))
    trials = metric(fault_transformer, transitions, {"state": "half_open"}) - trials_before
    assert trials < 3
    # A trial is one call, retried once (--language-retries 1) while the service fails.
    assert trials <= _calls(fault_language) - calls <= 2 * trials
    assert (
        metric(fault_transformer, "case_classifier_language_calls_total", {"outcome": "skipped_open_breaker"})
        >= skipped + 3 - trials
    )
    # Back to health: after the reset period a trial call closes the breaker and detection resumes.
    _set_mode(fault_language, "ok")
    time.sleep(1.2)
    infer(fault_transformer, infer_body([_case()]))
    _wait_breaker(fault_transformer, 0)
    calls = _calls(fault_language)
    infer(fault_transformer, infer_body([_case()]))
    assert _calls(fault_language) == calls + 1
    reliability.record(
        "Language service faults",
        "failing, then healthy again",
        9,
        "breaker opens (no calls while open), closes after a trial call; metrics show both",
    )


def test_low_confidence_status_below_the_threshold(fault_transformer, healthy):
    out = outputs(infer(fault_transformer, infer_body(["Something is wrong with the laptop since last week."])))
    assert out["status"] == ["low_confidence"]
    assert out["label"][0] != ""
    assert out["confidence"][0] < 0.99


def _answered(stack) -> float:
    """Detect calls the stack's language service answered with 200 (its own count)."""
    return metric(stack.language_url, "case_classifier_language_service_requests_total", {"status": "200"})


def test_real_language_service_killed_and_restarted_mid_run(stack, reliability):
    """The transformer of the main stack keeps answering through the outage and recovers alone."""
    base = stack.transformer_url
    process = stack.processes["language"]
    before = _answered(stack)
    assert outputs(infer(base, infer_body([_case()])))["language"] == ["en"]
    assert _answered(stack) == before + 1
    process.stop()
    for _ in range(8):
        started = time.monotonic()
        out = outputs(infer(base, infer_body([_case(), "Mein Laptop startet nicht mehr nach dem BIOS Update."])))
        assert time.monotonic() - started < BOUND_SECONDS
        assert out["language"] == ["en", "de"]  # fallback: the in-process detector
    restarted = start(process.service, process.log_path.parent)
    stack.processes["language"] = restarted
    deadline = time.monotonic() + 15
    while _answered(stack) == 0:
        assert time.monotonic() < deadline, "detection did not resume after the restart"
        infer(base, infer_body([_case()]))
        time.sleep(0.3)
    reliability.record(
        "Language service faults",
        "real service killed, then restarted",
        9,
        "every request answered by the fallback; detection resumes without a restart",
    )
