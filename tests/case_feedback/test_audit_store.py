"""The store's audit trail and principals, on a real SQLite file and a real PostgreSQL database.

Who corrected or erased a case must stay answerable after the case's data is gone, so the audit
log is written in the same transaction as the change it records (both or neither), outlives an
erasure, and never holds a text or a label. Each test gets a database of its own: the migration
test needs one at revision 0001, and the others then need no case ids of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from case_feedback.events import PredictionEvent
from case_feedback.service.store import MIGRATIONS, AuditRecord, Correction, Store, corrections
from tests.conftest import POSTGRES_SERVER
from tests.support.events import answered

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
SECRET_TEXT = "the customer's laptop screen flickers since the update"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the test's own: a SQLite file, or a PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('audit') / 'feedback.sqlite'}"
        return
    name = f"case_feedback_audit_{secrets.token_hex(6)}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{POSTGRES_SERVER}/{name}"
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store migrated to the newest revision."""
    store = Store(store_url)
    store.migrate()
    yield store
    store.close()


def _prediction(case_id: str, text: str = SECRET_TEXT) -> PredictionEvent:
    return answered(case_id, text, request_id="r-1", top_labels=["display"], top_probabilities=[0.9])


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _corrections(store: Store) -> dict[str, tuple[object, ...]]:
    rows = _rows(store.engine, "SELECT case_id, label, agent_id, principal FROM corrections")
    return {str(row[0]): row[1:] for row in rows}


def test_each_correction_is_audited_with_its_principal(store: Store) -> None:
    unknown = store.add_corrections(
        [Correction("C-1", "display", "agent-7", "crm-service"), Correction("C-2", "storage", "agent-7", "agent-7")],
        NOW,
    )
    assert unknown == ["C-1", "C-2"]
    assert store.audit("C-1") == [AuditRecord("crm-service", NOW, "C-1", "correct")]
    assert store.audit("C-2") == [AuditRecord("agent-7", NOW, "C-2", "correct")]
    assert store.audit("C-3") == []
    assert _corrections(store) == {
        "C-1": ("display", "agent-7", "crm-service"),
        "C-2": ("storage", "agent-7", "agent-7"),
    }


def test_the_latest_correction_replaces_the_principal_and_every_submission_is_audited(store: Store) -> None:
    store.add_corrections([Correction("C-1", "display", "agent-7", "crm-service")], NOW)
    # The agent itself submits the same label: the row now names the latest submitter.
    store.add_corrections([Correction("C-1", "display", "agent-7", "agent-7")], LATER)
    assert _corrections(store)["C-1"] == ("display", "agent-7", "agent-7")
    # An exact repeat changes nothing in the row, not even its time, but was submitted: audited.
    store.add_corrections([Correction("C-1", "display", "agent-7", "agent-7")], LATER + timedelta(minutes=1))
    (case,) = store.corrected_cases()
    assert case.corrected_at.replace(tzinfo=case.corrected_at.tzinfo or UTC) == LATER  # SQLite's is naive UTC
    assert [(r.principal, r.at) for r in store.audit("C-1")] == [
        ("crm-service", NOW),
        ("agent-7", LATER),
        ("agent-7", LATER + timedelta(minutes=1)),
    ]


def test_audit_times_are_utc_and_ordered_by_time_then_by_writing(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    store.add_corrections([Correction("C-1", "display", "a", "p-late")], LATER.astimezone(paris))
    store.add_corrections([Correction("C-1", "storage", "a", "p-first"), Correction("C-1", "display", "a", "p-2")], NOW)
    trail = store.audit("C-1")
    assert [r.principal for r in trail] == ["p-first", "p-2", "p-late"]
    assert [r.at for r in trail] == [NOW, NOW, LATER]
    assert all(r.at.utcoffset() == timedelta(0) for r in trail)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add_corrections([Correction("C-1", "display", "a", "p")], datetime(2026, 12, 4, 9, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.erase_case("C-1", "p", datetime(2026, 12, 4, 9, 30))
    assert len(store.audit("C-1")) == 3


def test_a_failing_correction_batch_leaves_neither_corrections_nor_audit_records(store: Store) -> None:
    store.add_corrections([Correction("C-0", "display", "agent-7", "crm-service")], NOW)
    before = (_corrections(store), store.audit("C-0"))
    # A NULL label breaks the corrections table's NOT NULL after the batch's audit records were written.
    broken_label = [Correction("C-1", "display", "agent-7", "crm"), Correction("C-2", None, "agent-7", "crm")]  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        store.add_corrections(broken_label, LATER)
    # A principal naming nobody breaks the audit log's check, while the correction itself is valid.
    with pytest.raises(IntegrityError):
        store.add_corrections(
            [Correction("C-0", "storage", "agent-7", ""), Correction("C-3", "display", "a", "")], LATER
        )
    assert (_corrections(store), store.audit("C-0")) == before
    assert _rows(store.engine, "SELECT case_id FROM audit_log WHERE case_id <> 'C-0'") == []
    with pytest.raises(IntegrityError):
        store.erase_case("C-0", "", LATER)
    assert (_corrections(store), store.audit("C-0")) == before


def test_erasure_removes_the_case_and_keeps_its_audit_trail_adding_its_own(store: Store) -> None:
    store.add_predictions([_prediction("C-1"), _prediction("C-1"), _prediction("C-2")], NOW)
    store.add_corrections([Correction("C-1", "storage", "agent-7", "crm-service")], NOW)
    store.add_corrections([Correction("C-2", "storage", "agent-7", "crm-service")], NOW)
    assert store.erase_case("C-1", "privacy-officer", LATER) == (2, 1)
    assert store.audit("C-1") == [
        AuditRecord("crm-service", NOW, "C-1", "correct"),
        AuditRecord("privacy-officer", LATER, "C-1", "erase"),
    ]
    assert _rows(store.engine, "SELECT case_id FROM predictions") == [("C-2",)]
    assert list(_corrections(store)) == ["C-2"]
    assert [case.case_id for case in store.corrected_cases()] == ["C-2"]
    assert store.audit("C-2") == [AuditRecord("crm-service", NOW, "C-2", "correct")]
    # An erasure of a case the store knows nothing of (or no more) changes no data and is audited.
    assert store.erase_case("C-1", "privacy-officer", LATER + timedelta(days=1)) == (0, 0)
    assert store.erase_case("NEVER", "crm-service", LATER) == (0, 0)
    assert [r.action for r in store.audit("C-1")] == ["correct", "erase", "erase"]
    assert store.audit("NEVER") == [AuditRecord("crm-service", LATER, "NEVER", "erase")]


def test_the_audit_log_holds_no_text_and_no_label(store: Store) -> None:
    store.add_predictions([_prediction("C-1")], NOW)
    store.add_corrections([Correction("C-1", "thermal_fan", "agent-7", "crm-service")], NOW)
    store.erase_case("C-1", "crm-service", LATER)
    columns = {column.lower() for column in _columns(store.engine, "audit_log")}
    assert columns == {"id", "at", "principal", "case_id", "action"}
    dumped = repr(_rows(store.engine, "SELECT * FROM audit_log"))
    for secret in (SECRET_TEXT, "thermal_fan", "display"):
        assert secret not in dumped
    assert "case_id" in _indexed_columns(store.engine, "audit_log")


def _columns(engine: Engine, table: str) -> list[str]:
    from sqlalchemy import inspect

    return [column["name"] for column in inspect(engine).get_columns(table)]


def _indexed_columns(engine: Engine, table: str) -> set[str]:
    from sqlalchemy import inspect

    return {str(name) for index in inspect(engine).get_indexes(table) for name in index["column_names"]}


def _alembic(store: Store, action: str, revision: str) -> None:
    """Run one Alembic command on the store, as :meth:`Store.migrate` does for the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_migrating_from_0001_keeps_predictions_and_corrections_without_a_principal(store_url: str) -> None:
    store = Store(store_url)
    try:
        _alembic(store, "upgrade", "0001")
        with store.engine.begin() as connection:  # as a 0001 service wrote them: no principal
            connection.execute(
                text(
                    "INSERT INTO predictions (case_id, request_id, model_version, label, confidence, status, "
                    "language, top_labels, top_probabilities, text, source, predicted_at) VALUES "
                    "(:case_id, 'r-1', '1.0.0', 'display', 0.9, 'ok', 'en', '[]', '[]', :text, 'online', :at)"
                ),
                [
                    {"case_id": "OLD-1", "text": SECRET_TEXT, "at": NOW},
                    # dated by a client's clock in 2100: out of retention's reach before 0003
                    {"case_id": "OLD-2", "text": SECRET_TEXT, "at": datetime(2100, 1, 1, tzinfo=UTC)},
                ],
            )
            connection.execute(
                corrections.insert(),
                [
                    {"case_id": "OLD-1", "label": "storage", "agent_id": "agent-1", "corrected_at": NOW},
                    {"case_id": "OLD-9", "label": "display", "agent_id": "a", "corrected_at": NOW},
                ],
            )
        store.migrate()
        assert _rows(store.engine, "SELECT version_num FROM alembic_version") == [("0003",)]
        # 0003: no prediction is dated after the migration; the client's date is kept beside it
        assert store.expire_texts(datetime.now(UTC) + timedelta(seconds=1)) == 2
        assert _corrections(store) == {"OLD-1": ("storage", "agent-1", None), "OLD-9": ("display", "a", None)}
        assert [(c.case_id, c.label, c.text) for c in store.corrected_cases()] == [
            ("OLD-1", "storage", None),  # past retention now
            ("OLD-9", "display", None),
        ]
        assert store.audit("OLD-1") == []  # nobody can say who submitted them: no record is made up
        # Re-submitting an old correction as it stands records its principal, and audits it.
        store.add_corrections([Correction("OLD-1", "storage", "agent-1", "crm-service")], LATER)
        assert _corrections(store)["OLD-1"] == ("storage", "agent-1", "crm-service")
        assert store.audit("OLD-1") == [AuditRecord("crm-service", LATER, "OLD-1", "correct")]
        # And back: 0001's tables keep their rows, the principals and the audit log go.
        _alembic(store, "downgrade", "0001")
        assert "principal" not in _columns(store.engine, "corrections")
        assert len(_rows(store.engine, "SELECT case_id FROM corrections")) == 2
        store.migrate()
        assert store.audit("OLD-1") == []
    finally:
        store.close()
