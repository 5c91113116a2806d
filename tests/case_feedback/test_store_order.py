"""Writers in any order, on a real SQLite file and a real PostgreSQL database: corrections are
written in case-id order, so two writers touching the same cases in opposite orders never
deadlock; an erasure and a logger never interleave so that an event outlives the erasure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from case_feedback.events import PredictionEvent
from case_feedback.service.store import Correction, Store
from tests.case_feedback.test_audit_store import store_url  # noqa: F401 - the fixture, per store
from tests.support.events import answered

pytestmark = pytest.mark.slow
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:  # noqa: F811 - the fixture above, used
    store = Store(store_url)
    store.migrate()
    yield store
    store.close()


def _run_together(*jobs) -> list[BaseException]:
    failures: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job) -> None:
        start.wait()
        try:
            job()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures


def test_two_writers_in_opposite_orders_do_not_deadlock(store):
    cases = [f"D-{n:04d}" for n in range(300)]

    def writer(order: list[str], label: str, agent: str):
        def job() -> None:
            for _ in range(15):
                store.add_corrections([Correction(case, label, agent, "crm-1") for case in order], datetime.now(UTC))

        return job

    failures = _run_together(writer(cases, "display", "a-1"), writer(cases[::-1], "storage", "a-2"))
    assert failures == []
    labels = {case.label for case in store.corrected_cases()}
    assert labels <= {"display", "storage"}
    assert len(store.corrected_cases()) == len(cases)


def test_events_logged_while_a_case_is_erased_never_outlive_the_erasure(store):
    def prediction(case: str, n: int) -> PredictionEvent:
        return answered(case, event_id=f"r/{case}/{n}")

    cases = [f"E-{n}" for n in range(20)]

    def logger() -> None:
        for n in range(30):
            store.add_predictions([prediction(case, n) for case in cases], NOW)

    def eraser() -> None:
        for case in cases:
            store.erase_case(case, "privacy-1", datetime.now(UTC))

    failures = _run_together(logger, eraser)
    # SQLite may refuse a writer that lost a race (busy): that writer's batch was not stored, and
    # the prediction log sends it again; nothing else may fail.
    assert all("locked" in str(failure) or "busy" in str(failure) for failure in failures), failures
    with store.engine.connect() as connection:
        from sqlalchemy import text

        left = connection.execute(text("SELECT COUNT(*) FROM predictions")).scalar_one()
    assert left == 0
    assert all(store.is_erased(case) for case in cases)


def test_predictions_without_a_case_id_expire_whole(store):
    store.add_predictions([answered(None, "t")], NOW)
    store.add_predictions([answered("K-1", "t")], NOW)
    assert store.expire_texts(datetime(2027, 1, 1, tzinfo=UTC)) == 2
    assert [q.predictions for q in store.quality("1.0.0")] == [1]  # the case's row stays, textless
