"""The CRM's corrections API, the prediction log's intake and the quality figures, on a real
feedback service over SQLite and over PostgreSQL.

Each test works on model versions and case ids of its own, so the tests share one service per
store and still see only their own figures.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.auth import bearer
from tests.support.events import event
from tests.support.v2 import metric

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feedback")]


@pytest.fixture
def version() -> str:
    """A model version no other test logs under."""
    return f"0.{uuid.uuid4().int % 10**8}.0"


@pytest.fixture
def ids() -> str:
    """A case-id prefix no other test uses."""
    return f"C-{uuid.uuid4().hex[:8]}"


def test_corrections_are_accepted_and_unseen_cases_named(feedback, version, ids):
    assert feedback.log([event(f"{ids}-1", version), event(f"{ids}-2", version)]).json() == {
        "stored": 2,
        "duplicates": 0,
        "erased": 0,
    }
    answer = feedback.correct((f"{ids}-1", "battery_power"), (f"{ids}-never", "display"))
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "unknown_case_ids": [f"{ids}-never"]}


def test_an_unknown_label_is_refused_naming_the_valid_ones(feedback, labels, ids):
    answer = feedback.correct((f"{ids}-1", "battery"))
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert "'battery'" in message
    assert all(label in message for label in labels)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        # The CRM submits on an agent's behalf: it must name the agent.
        (
            {"corrections": [{"case_id": "C-1", "label": "display"}]},
            400,
            "agent_id: required when submitting on an agent's behalf",
        ),
        ({"corrections": [{"case_id": 17, "label": "display", "agent_id": "a"}]}, 400, "case_id: Input should be"),
        ({"corrections": [{"case_id": "", "label": "display", "agent_id": "a"}]}, 400, "at least 1 character"),
        ({"corrections": []}, 400, "at least 1 item"),
        ({"corrections": [{"case_id": "C", "label": "display", "agent_id": "a", "x": 1}]}, 400, "Extra inputs"),
        ({"fixes": []}, 400, "corrections: Field required"),
        ({"corrections": [{"case_id": "C-1", "label": "display", "agent_id": "a"}] * 1025}, 413, "at most 1024"),
        ({"corrections": [{"case_id": "C" * 300, "label": "display", "agent_id": "a"}]}, 400, "at most 256"),
    ],
    ids=["missing field", "bad type", "empty id", "no items", "unknown field", "wrong key", "too many", "long id"],
)
def test_bad_bodies_get_a_clear_4xx(feedback, body, status, says):
    answer = httpx.post(f"{feedback.url}/v1/corrections", json=body, timeout=10, headers=bearer("crm"))
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


def test_malformed_and_oversize_bodies_are_refused(feedback):
    json_as_the_crm = {"content-type": "application/json", **bearer("crm")}
    broken = httpx.post(f"{feedback.url}/v1/corrections", content=b"{not json", headers=json_as_the_crm)
    assert broken.status_code == 400
    assert broken.json()["error"].startswith("invalid request")
    huge = b'{"corrections": [' + b" " * (9 * 1024 * 1024) + b"]}"
    oversize = httpx.post(f"{feedback.url}/v1/corrections", content=huge, headers=json_as_the_crm, timeout=30)
    assert oversize.status_code == 413
    assert httpx.get(f"{feedback.url}/readyz").status_code == 200


def test_the_latest_correction_wins_and_a_repeat_changes_nothing(feedback, version, ids):
    case = f"{ids}-1"
    feedback.log([event(case, version, label="display")])
    feedback.correct((case, "storage"))
    feedback.correct((case, "battery_power"))
    after = feedback.quality(version)
    assert after["confusion"] == [{"predicted": "display", "corrected": "battery_power", "count": 1}]
    stamp = _corrected_at(feedback.store_url, case)
    again = feedback.correct((case, "battery_power"))
    assert again.json() == {"accepted": 1, "unknown_case_ids": []}
    assert feedback.quality(version) == after
    assert _corrected_at(feedback.store_url, case) == stamp  # not even its time moved
    # Within one request, too, the last correction of a case wins.
    feedback.correct((case, "storage"), (case, "display"))
    assert feedback.quality(version)["corrected"] == 0


def test_quality_follows_the_corrections_per_version(feedback, version, ids):
    other = f"{version}.post1"
    feedback.log([event(f"{ids}-{i}", version, label="display") for i in range(4)])
    feedback.log([event(f"{ids}-x", other, label="storage")])
    feedback.log([event(f"{ids}-f", version, label="", status="auto_reply")])
    before = feedback.quality(version)
    assert (before["predictions"], before["reviewed"], before["corrected"]) == (5, 0, 0)
    assert before["agreement_rate"] is None
    feedback.correct((f"{ids}-0", "display"), (f"{ids}-1", "battery_power"), (f"{ids}-2", "battery_power"))
    feedback.correct((f"{ids}-f", "display"))  # a filtered case: no prediction to agree with
    after = feedback.quality(version)
    assert (after["predictions"], after["reviewed"], after["corrected"]) == (5, 3, 2)
    assert after["agreement_rate"] == pytest.approx(1 / 3)
    assert after["confusion"] == [
        {"predicted": "display", "corrected": "battery_power", "count": 2},
        {"predicted": "display", "corrected": "display", "count": 1},
    ]
    assert feedback.quality(other)["reviewed"] == 0
    # The same figures on /metrics, for Prometheus.
    labels = {"model_version": version}
    assert metric(feedback.url, "case_classifier_feedback_reviewed", labels) == 3
    assert metric(feedback.url, "case_classifier_feedback_corrected", labels) == 2
    assert metric(feedback.url, "case_classifier_feedback_agreement_ratio", labels) == pytest.approx(1 / 3)
    confusion = {**labels, "predicted": "display", "corrected": "battery_power"}
    assert metric(feedback.url, "case_classifier_feedback_confusion", confusion) == 2


def test_erasure_removes_texts_predictions_and_corrections(feedback, version, ids):
    case, kept = f"{ids}-erase", f"{ids}-keep"
    feedback.log([event(case, version), event(case, version), event(kept, version)])
    feedback.correct((case, "storage"), (kept, "storage"))
    answer = feedback.erase(case)
    assert answer.json() == {"case_id": case, "predictions_deleted": 2, "corrections_deleted": 1}
    assert _rows(feedback.store_url, case) == (0, 0)
    assert _rows(feedback.store_url, kept) == (1, 1)
    quality = feedback.quality(version)
    assert (quality["predictions"], quality["reviewed"]) == (1, 1)
    assert feedback.erase(case).json()["predictions_deleted"] == 0


def test_prediction_events_are_validated(feedback, version):
    bad = event("C-1", version, confidence=1.5)
    answer = feedback.log([bad])
    assert answer.status_code == 400
    assert "confidence" in answer.json()["error"]


def _corrected_at(store_url: str, case_id: str):
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT corrected_at FROM corrections WHERE case_id = :c"), {"c": case_id}
            ).scalar_one()
    finally:
        engine.dispose()


def _rows(store_url: str, case_id: str) -> tuple[int, int]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            predictions = connection.execute(
                text("SELECT count(*) FROM predictions WHERE case_id = :c"), {"c": case_id}
            ).scalar_one()
            corrections = connection.execute(
                text("SELECT count(*) FROM corrections WHERE case_id = :c"), {"c": case_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return predictions, corrections
