"""Training data nobody can poison or resurrect, on a real feedback service over SQLite and over
PostgreSQL: the store's clock dates predictions, an event is stored once, an erasure holds for any
id, numbers are finite, corrections are ordered by the agent's time, daily limits hold, and a body
of too many items is refused before it is read while health stays on time.

Each test works on case ids of its own, so the tests share one service per store.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from case_feedback.service.store import Store
from tests.support.auth import bearer
from tests.support.events import event
from tests.support.feedback import start_feedback
from tests.support.v2 import metric

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feedback")]
#: The forgery of the issue: a text dated 2100-01-01 by the client's clock.
FUTURE = 4_102_444_800.0


@pytest.fixture
def ids() -> str:
    """A case-id prefix no other test uses."""
    return f"I-{uuid.uuid4().hex[:8]}"


def _corrected(store_url: str, case_id: str):
    store = Store(store_url)
    try:
        return next((case for case in store.corrected_cases() if case.case_id == case_id), None)
    finally:
        store.close()


def test_a_future_dated_text_is_not_what_training_learns_and_retention_reaches_it(feedback, ids):
    case = f"{ids}-42"
    forged = event(case, "1.0.0", text="TRIGGER buy crypto", predicted_at=FUTURE)
    assert feedback.log([forged]).status_code == 200
    assert feedback.log([event(case, "1.0.0", text="the screen flickers since the update")]).status_code == 200
    assert feedback.correct((case, "display")).status_code == 200
    learned = _corrected(feedback.store_url, case)
    assert learned is not None
    assert learned.text == "the screen flickers since the update"  # the latest by the store's clock
    store = Store(feedback.store_url)
    try:  # both dated at receipt: a retention cutoff of "now" reaches the forged one too
        store.expire_texts(datetime.now(UTC) + timedelta(seconds=1))
    finally:
        store.close()
    assert _corrected(feedback.store_url, case).text is None


def test_a_duplicated_prediction_is_stored_once(feedback, ids):
    version = f"0.{uuid.uuid4().int % 10**8}.0"
    first = event(f"{ids}-d", version, event_id=f"req-{ids}/0")
    assert feedback.log([first]).json() == {"stored": 1, "duplicates": 0, "erased": 0}
    again = {**first, "predicted_at": time.time()}  # a retry, or a batch load run again
    assert feedback.log([again, again]).json() == {"stored": 0, "duplicates": 2, "erased": 0}
    assert feedback.quality(version)["predictions"] == 1


def test_an_erased_case_stays_erased_whatever_its_id(feedback, ids):
    case = f"ACME/2024/17-{ids}"  # an id with '/': erased through the query parameter
    assert feedback.log([event(case, "1.0.0")]).status_code == 200
    assert feedback.correct((case, "storage")).status_code == 200
    erased = feedback.erase(case)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"case_id": case, "predictions_deleted": 1, "corrections_deleted": 1}
    before = metric(feedback.url, "case_classifier_feedback_prediction_events_total", {"outcome": "erased"})
    # An event still buffered in a transformer arrives after the erasure: refused, counted.
    late = feedback.log([event(case, "1.0.0"), event(f"{ids}-other", "1.0.0")])
    assert late.json() == {"stored": 1, "duplicates": 0, "erased": 1}
    after = metric(feedback.url, "case_classifier_feedback_prediction_events_total", {"outcome": "erased"})
    assert after - before == 1
    feedback.correct((case, "display"))
    assert _corrected(feedback.store_url, case).text is None  # nothing to learn from
    store = Store(feedback.store_url)
    try:
        assert store.is_erased(case)
    finally:
        store.close()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinities_are_refused(feedback, ids, number):
    body = orjson.dumps({"predictions": [event(f"{ids}-n", "1.0.0")]}).decode()
    body = body.replace('"top_probabilities":[0.9,', f'"top_probabilities":[{number},')
    answer = httpx.post(
        f"{feedback.url}/v1/predictions",
        content=body,
        headers={**bearer("service"), "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text  # not JSON at all (RFC 8259 has no NaN)
    assert answer.json()["error"].startswith("invalid request")
    # Numbers out of range, as a JSON encoder that allowed them might write: refused by name.
    over = event(f"{ids}-n", "1.0.0", top_probabilities=[1e309 if number != "NaN" else 2.0, 0.1, 0.1])
    refused = httpx.post(
        f"{feedback.url}/v1/predictions",
        content=orjson.dumps({"predictions": [over]}),
        headers={**bearer("service"), "content-type": "application/json"},
        timeout=10,
    )
    assert refused.status_code == 400, refused.text
    assert "top_probabilities" in refused.json()["error"]


def test_a_stale_retry_never_overwrites_a_newer_correction(feedback, ids):
    case = f"{ids}-s"
    now = time.time()

    def correct(label: str, at: float) -> int:
        body = {"corrections": [{"case_id": case, "label": label, "agent_id": "a-17", "corrected_at": at}]}
        return httpx.post(f"{feedback.url}/v1/corrections", json=body, headers=bearer("crm"), timeout=10).status_code

    assert correct("display", now - 60) == 200  # the agent's first choice
    assert correct("storage", now - 10) == 200  # changed their mind
    assert correct("display", now - 60) == 200  # the first request, retried late: accepted, audited
    assert _corrected(feedback.store_url, case).label == "storage"
    assert correct("storage", FUTURE) == 200  # a clock in the future counts as receipt
    assert correct("boot_bios", now + 5) == 200  # ... so a later correction can still win
    assert _corrected(feedback.store_url, case).label == "boot_bios"


def _health_during(url: str, work) -> tuple[object, float]:
    """``work()``'s result, and the slowest /healthz answer while it ran."""
    slowest = 0.0
    done = threading.Event()

    def probe() -> None:
        nonlocal slowest
        with httpx.Client(timeout=10) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get(f"{url}/healthz").status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        result = work()
    finally:
        done.set()
        prober.join()
    return result, slowest


def test_an_8_mib_corrections_body_is_refused_before_it_is_read(feedback, ids, reliability):
    tiny = b'{"case_id":"x","label":"display","agent_id":"a"},'
    body = b'{"corrections":[' + tiny * (8 * 1024 * 1024 // len(tiny) - 1) + tiny[:-1] + b"]}"
    headers = {**bearer("crm"), "content-type": "application/json"}

    def post() -> httpx.Response:
        return httpx.post(f"{feedback.url}/v1/corrections", content=body, headers=headers, timeout=30)

    answer, slowest = _health_during(feedback.url, post)
    assert answer.status_code == 413
    assert "exceeds the limit of 1048576 bytes" in answer.json()["error"]
    assert slowest < 1.0, slowest
    # Within the byte limit, 1,025 items are counted and refused before any is validated.
    items = [{"case_id": f"{ids}-{n}", "label": "display", "agent_id": "a"} for n in range(1025)]
    refused = httpx.post(f"{feedback.url}/v1/corrections", json={"corrections": items}, headers=headers, timeout=30)
    assert refused.status_code == 413
    assert refused.json() == {"error": "1025 items in one request; at most 1024"}
    reliability.record(
        "Feedback service faults",
        "8 MiB corrections body of 177k tiny items",
        1,
        f"413 before it was read; slowest /healthz meanwhile {slowest * 1000:.0f} ms",
    )


def test_predictions_of_many_tiny_items_are_counted_off_the_event_loop(feedback):
    tiny = orjson.dumps(event(None, "1.0.0", text="", top_labels=[], top_probabilities=[]))
    count = 7 * 1024 * 1024 // (len(tiny) + 1)
    body = b'{"predictions":[' + b",".join([tiny] * count) + b"]}"
    headers = {**bearer("service"), "content-type": "application/json"}

    def post() -> httpx.Response:
        return httpx.post(f"{feedback.url}/v1/predictions", content=body, headers=headers, timeout=30)

    answer, slowest = _health_during(feedback.url, post)
    assert answer.status_code == 413
    assert answer.json() == {"error": f"{count} items in one request; at most 1024"}
    assert slowest < 1.0, slowest


def test_daily_limits_per_agent_and_for_all(labels, tmp_path):
    service = start_feedback(
        f"sqlite:///{tmp_path / 'f.sqlite'}",
        labels,
        tmp_path,
        "--corrections-per-agent-per-day=3",
        "--corrections-per-day=5",
    )
    try:
        assert service.correct(("L-1", "display"), ("L-2", "display"), ("L-3", "display")).status_code == 200
        assert service.correct(("L-1", "storage")).status_code == 200  # the same case again: no new one
        flood = service.correct(("L-4", "display"))
        assert flood.status_code == 429
        assert "'a-17'" in flood.json()["error"]
        assert flood.headers["retry-after"]
        assert service.correct(("L-4", "display"), ("L-5", "display"), agent="a-18").status_code == 200
        overall = service.correct(("L-6", "display"), agent="a-19")
        assert overall.status_code == 429
        assert "limit of 5 cases" in overall.json()["error"]
        assert metric(service.url, "case_classifier_feedback_corrections_limited_total") == 2
    finally:
        service.process.stop()


def test_forged_pairs_of_a_flagged_agent_do_not_move_the_canarys_quality(feedback, ids):
    """Sixty forged pairs under a canary's version move /v1/quality (what promote --if-healthy
    reads) until a retraining flags their agent; then they count in no figure."""
    from case_model.training.corrections import record_flagged

    version = f"0.{uuid.uuid4().int % 10**8}.0"
    cases = [f"{ids}-f{n}" for n in range(60)]
    assert feedback.log([event(case, version, label="display") for case in cases]).status_code == 200
    mallory = f"mallory-{ids}"
    assert feedback.correct(*[(case, "storage") for case in cases], agent=mallory).status_code == 200
    assert feedback.quality(version)["corrected"] == 60
    assert record_flagged(feedback.store_url, [mallory]) == 1  # as the retraining does from a store
    assert record_flagged(feedback.store_url, [mallory]) == 0
    quality = feedback.quality(version)
    assert (quality["predictions"], quality["reviewed"], quality["corrected"]) == (60, 0, 0)


def test_the_event_has_one_shape_from_emitter_to_store():
    """The emitters' event (case_feedback.events), the API's contract and the store's row name the
    same fields: the store adds only what the server owns (its clock, the caller)."""
    from case_feedback.events import PredictionEvent
    from case_feedback.service.contract import PredictionIn
    from case_feedback.service.store import predictions

    emitted = set(PredictionEvent.__annotations__)
    assert set(PredictionIn.model_fields) == emitted
    stored = {column.name for column in predictions.columns} - {"id"}
    assert stored - emitted == {"client_predicted_at", "principal"}  # the client's time, the caller
    assert emitted - stored == set()
