"""The feedback store: predictions as served, agents' corrections, and the figures drawn from them.

Four tables. ``predictions`` holds one row per answered case (online or from a batch run): the
model version, label, confidence, status, language, top three, and the cleaned, PII-masked text
the model saw (never the raw text), which retention erases after a while. Its time is the store's
clock at receipt (a client's clock could date a text into the future, where it would be "latest"
forever); its event id makes a retry or a rerun add nothing. ``corrections`` holds each case's
latest correction by the time the agent made it (receipt breaking a tie), with the principal who
submitted it: one row per case, so a stale retry never overwrites a newer label and repeating one
changes nothing. ``audit_log`` says who corrected or erased which case, and when: written in the
same transaction as the change it records, and kept when the case's data is erased, which is why
it holds no text and no label. ``erased_cases`` is the tombstone of each erased case: events that
arrive for it later (buffered in a transformer, or a batch load run again) are refused, so an
erasure holds. ``flagged_agents`` names the agents a retraining found steering labels against the
other agents: their corrections count in no quality figure (the canary's verdict included). SQLite
for a local run, PostgreSQL on a cluster; the schema is Alembic's
(``case_feedback/migrations``), never created by hand.

Quality per model version, for the cases that version classified: *reviewed* when an agent has
given the case a label, *corrected* when that label differs from the one predicted; the agreement
rate is the share of reviewed cases not corrected. A case predicted more than once by a version
counts with its latest prediction. Corrections of flagged agents are not counted: sixty forged
pairs must not move a canary's verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from alembic import command
from alembic.config import Config
from packaging.version import InvalidVersion, Version
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from case_feedback.events import PredictionEvent

MIGRATIONS = Path(__file__).parent / "migrations"
#: Statuses of classified cases: those an agent's label can agree or disagree with.
CLASSIFIED = ("ok", "low_confidence")
#: Longest principal (the authenticated caller's subject) the store keeps: as long as an agent id,
#: since an agent may be its own principal. PostgreSQL enforces it; the API must bound it first.
MAX_PRINCIPAL_CHARS = 128
#: What an audit record says was done to a case.
AuditAction = Literal["correct", "erase"]
#: Longest event id (the emitter's request id, 128 characters at most, and the case's index).
MAX_EVENT_ID_CHARS = 200
#: PostgreSQL advisory lock between logging and erasing: loggers share it, an erasure takes it
#: alone, so no event checked against the tombstones before an erasure commits after it.
_ERASURE_LOCK = 7261504

metadata = MetaData()
predictions = Table(
    "predictions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(256), nullable=True, index=True),
    Column("request_id", String(128), nullable=False),
    Column("model_version", String(64), nullable=False, index=True),
    Column("label", String(128), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("status", String(32), nullable=False),
    Column("language", String(16), nullable=False),
    Column("top_labels", JSON, nullable=False),
    Column("top_probabilities", JSON, nullable=False),
    Column("text", Text, nullable=True),
    Column("source", String(16), nullable=False),
    # The store's clock at receipt; what the client said is information only.
    Column("predicted_at", DateTime(timezone=True), nullable=False, index=True),
    Column("client_predicted_at", DateTime(timezone=True), nullable=True),
    # The emitter's idempotency key; NULL for rows stored before there was one (migration 0003).
    Column("event_id", String(MAX_EVENT_ID_CHARS), nullable=True),
    Column("principal", String(MAX_PRINCIPAL_CHARS), nullable=True),
    Index("ux_predictions_event_id", "event_id", unique=True),
)
corrections = Table(
    "corrections",
    metadata,
    Column("case_id", String(256), primary_key=True),
    Column("label", String(128), nullable=False),
    Column("agent_id", String(128), nullable=False),
    # When the agent made it (never after its receipt); the latest by this time wins.
    Column("corrected_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=True),
    # NULL only for corrections stored before principals were recorded (migration 0002).
    Column("principal", String(MAX_PRINCIPAL_CHARS), nullable=True),
)
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("principal", String(MAX_PRINCIPAL_CHARS), nullable=False),
    Column("case_id", String(256), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    # A record that names nobody, or an action nobody can read, is refused by the database itself.
    CheckConstraint("length(principal) > 0", name="ck_audit_log_principal"),
    CheckConstraint("action IN ('correct', 'erase')", name="ck_audit_log_action"),
)
erased_cases = Table(
    "erased_cases",
    metadata,
    Column("case_id", String(256), primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)
flagged_agents = Table(
    "flagged_agents",
    metadata,
    Column("agent_id", String(128), primary_key=True),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Correction:
    """An agent's label for a case, and who submitted it.

    ``agent_id`` is the agent the label is from; ``principal`` the authenticated caller that
    submitted it (a CRM integration acting for the agent, or the agent itself). Both are kept
    because the request names the first and only authentication proves the second.
    """

    case_id: str
    label: str
    agent_id: str
    principal: str
    #: When the agent made it (None: at receipt). Latest wins by this time, so a retried stale
    #: correction never overwrites a newer one; a time after receipt is taken as receipt.
    corrected_at: datetime | None = None


@dataclass(frozen=True)
class Logged:
    """What became of a batch of prediction events: each is stored, a duplicate of a stored one
    (a retry, a rerun), or refused because its case was erased."""

    stored: int = 0
    duplicates: int = 0
    erased: int = 0


@dataclass(frozen=True)
class AuditRecord:
    """Who did what to a case, and when. No text and no label: it outlives the case's erasure."""

    principal: str
    at: datetime
    case_id: str
    action: AuditAction


@dataclass(frozen=True)
class CorrectedCase:
    """A case's latest correction, with its latest prediction's masked text when the store has it."""

    case_id: str
    label: str
    corrected_at: datetime
    text: str | None
    predicted_label: str | None
    model_version: str | None
    #: The agent the label is from (what retraining weighs each agent's share by).
    agent_id: str


@dataclass(frozen=True)
class Quality:
    """How one model version fares with the agents."""

    model_version: str
    predictions: int
    reviewed: int
    corrected: int
    confusion: dict[tuple[str, str], int]

    @property
    def agreement_rate(self) -> float | None:
        """Share of reviewed cases whose label the agent kept; None before any review."""
        return (self.reviewed - self.corrected) / self.reviewed if self.reviewed else None


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created, its journal set to WAL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Store:
    """The store behind one SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: what logs may say about the store (never its URL, which
        can hold a password)."""
        return str(self.engine.dialect.name)

    def migrate(self) -> None:
        """Bring the schema up to the newest migration. On PostgreSQL, an advisory lock makes
        replicas starting together migrate one after the other."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7261503)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> bool:
        """Whether the store answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except Exception:  # noqa: BLE001 - any failure means not reachable, which is the answer
            return False
        return True

    def add_predictions(
        self, events: Sequence[PredictionEvent], received: datetime, principal: str | None = None
    ) -> Logged:
        """Record answered cases, except duplicates of stored events (by event id) and events of
        erased cases (refused: an erasure holds); say how many of each.

        Each is dated ``received`` (the store's clock; the emitter's time is kept as information)
        and attributed to ``principal``, the authenticated caller that logged it.
        """
        if not events:
            return Logged()
        rows = [_prediction_row(event, received, principal) for event in events]
        with self.engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:  # shared: loggers never wait for each other, only for an erasure
                connection.execute(text(f"SELECT pg_advisory_xact_lock_shared({_ERASURE_LOCK})"))
            ids = sorted({row["case_id"] for row in rows if row["case_id"] is not None})
            erased = set(_erased_among(connection, ids))
            kept = [row for row in rows if row["case_id"] not in erased]
            stored = 0
            if kept:
                # One statement, its parameters a list: SQLAlchemy compiles it once (then from its
                # cache) and sends the rows as multi-row VALUES pages ("insertmanyvalues"). The
                # statement with the rows inside it compiled 256 rows of bind parameters per batch,
                # most of the feedback service's CPU under load (py-spy).
                # RETURNING counts what was inserted (rowcount is not reliable for a multi-row insert).
                stored = len(connection.execute(_insert_new_events(postgres), kept).all())
            late = 0
            if not postgres and ids:
                # SQLite read the tombstones outside the write transaction; now this transaction
                # holds the one write lock, an erasure committed meanwhile is seen and undone here.
                tombstoned = select(erased_cases.c.case_id).where(erased_cases.c.case_id.in_(ids))
                late = int(
                    connection.execute(delete(predictions).where(predictions.c.case_id.in_(tombstoned))).rowcount
                )
        duplicates = len(kept) - stored
        return Logged(stored=stored - late, duplicates=duplicates, erased=len(rows) - len(kept) + late)

    def add_corrections(self, rows: Sequence[Correction], now: datetime) -> list[str]:
        """Record corrections (the latest per case wins); return the case ids never predicted.

        Latest by the time the agent made the correction (never later than ``now``, its receipt),
        and by receipt for equal times: a retried stale correction loses to a newer one stored
        meanwhile. A correction equal to the stored one (same label, agent and principal) changes
        nothing, not even its time: repeating a request is harmless. One that differs and is newer
        replaces it, principal included, so the row names who submitted the label it holds.
        Corrections for unknown cases are kept too (their prediction may come later, from a batch
        run), and named in the answer; without a text logged by a service they never train.
        Rows are written in case-id order, so two writers lock them in one order (no deadlock).

        Every correction of the batch, repeated or not, gets an audit record (its principal,
        ``now``, its case, ``correct``) in the same transaction: the audit says every submission
        that was accepted, and none that was not. ``now`` must be timezone-aware.
        """
        at = _utc(now)
        latest: dict[str, tuple[datetime, Correction]] = {}
        for row in rows:  # within a request, the latest by the agent's time; the last one on a tie
            made = min(_utc(row.corrected_at), at) if row.corrected_at is not None else at
            if row.case_id not in latest or made >= latest[row.case_id][0]:
                latest[row.case_id] = (made, row)
        values = [
            {
                "case_id": case_id,
                "label": row.label,
                "agent_id": row.agent_id,
                "principal": row.principal,
                "corrected_at": made,
                "received_at": at,
            }
            for case_id, (made, row) in sorted(latest.items())
        ]
        if not values:
            return []
        audit = [{"at": at, "principal": row.principal, "case_id": row.case_id, "action": "correct"} for row in rows]
        with self.engine.begin() as connection:
            # The audit first: a correction that then fails takes its audit records with it.
            connection.execute(audit_log.insert(), audit)
            dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
            insert = dialect.insert(corrections).values(values)
            changed = (
                (corrections.c.label != insert.excluded.label)
                | (corrections.c.agent_id != insert.excluded.agent_id)
                # IS DISTINCT FROM: a row stored before principals were recorded (NULL) differs.
                | corrections.c.principal.is_distinct_from(insert.excluded.principal)
            )
            stored_receipt = func.coalesce(corrections.c.received_at, corrections.c.corrected_at)
            newer = (insert.excluded.corrected_at > corrections.c.corrected_at) | (
                (insert.excluded.corrected_at == corrections.c.corrected_at)
                & (insert.excluded.received_at >= stored_receipt)
            )
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=[corrections.c.case_id],
                    set_={
                        "label": insert.excluded.label,
                        "agent_id": insert.excluded.agent_id,
                        "principal": insert.excluded.principal,
                        "corrected_at": insert.excluded.corrected_at,
                        "received_at": insert.excluded.received_at,
                    },
                    where=changed & newer,
                )
            )
            known = connection.execute(
                select(predictions.c.case_id).where(predictions.c.case_id.in_(list(latest))).distinct()
            ).scalars()
            seen = set(known)
        return [case_id for case_id in latest if case_id not in seen]

    def quality(self, model_version: str | None = None) -> list[Quality]:
        """Quality per model version (every version that logged a prediction), newest first."""
        counts = select(predictions.c.model_version, func.count().label("n")).group_by(predictions.c.model_version)
        if model_version is not None:
            counts = counts.where(predictions.c.model_version == model_version)
        latest = (
            select(
                predictions.c.model_version,
                predictions.c.case_id,
                predictions.c.label,
                func.row_number()
                .over(
                    partition_by=(predictions.c.model_version, predictions.c.case_id),
                    order_by=(predictions.c.predicted_at.desc(), predictions.c.id.desc()),
                )
                .label("rank"),
            )
            .where(predictions.c.case_id.is_not(None), predictions.c.status.in_(CLASSIFIED))
            .subquery()
        )
        pairs = (
            select(latest.c.model_version, latest.c.label, corrections.c.label.label("corrected"), func.count())
            .join(corrections, corrections.c.case_id == latest.c.case_id)
            .where(latest.c.rank == 1, corrections.c.agent_id.not_in(select(flagged_agents.c.agent_id)))
            .group_by(latest.c.model_version, latest.c.label, corrections.c.label)
        )
        with self.engine.connect() as connection:
            totals: dict[str, int] = {str(version): int(n) for version, n in connection.execute(counts)}
            confusion: dict[str, dict[tuple[str, str], int]] = {version: {} for version in totals}
            for version, predicted, corrected, n in connection.execute(pairs):
                if version in confusion:
                    confusion[version][(predicted, corrected)] = n
        return [
            Quality(
                model_version=version,
                predictions=totals[version],
                reviewed=sum(confusion[version].values()),
                corrected=sum(n for (predicted, corrected), n in confusion[version].items() if predicted != corrected),
                confusion=confusion[version],
            )
            for version in sorted(totals, key=_version_key, reverse=True)
        ]

    def corrected_cases(self) -> list[CorrectedCase]:
        """Every corrected case with the text of its latest prediction (None when the case was
        never predicted or its text is past retention): what retraining reads."""
        latest = (
            select(
                predictions.c.case_id,
                predictions.c.text,
                predictions.c.label,
                predictions.c.model_version,
                func.row_number()
                .over(
                    partition_by=predictions.c.case_id,
                    order_by=(predictions.c.predicted_at.desc(), predictions.c.id.desc()),
                )
                .label("rank"),
            )
            # Texts only from the prediction log (the API lets only a service write it).
            .where(predictions.c.case_id.is_not(None))
            .subquery()
        )
        query = (
            select(
                corrections.c.case_id,
                corrections.c.label,
                corrections.c.corrected_at,
                latest.c.text,
                latest.c.label,
                latest.c.model_version,
                corrections.c.agent_id,
            )
            .outerjoin(latest, (latest.c.case_id == corrections.c.case_id) & (latest.c.rank == 1))
            .order_by(corrections.c.case_id)
        )
        with self.engine.connect() as connection:
            return [CorrectedCase(*row) for row in connection.execute(query)]

    def erase_case(self, case_id: str, principal: str, now: datetime) -> tuple[int, int]:
        """Delete a case's predictions (with their texts) and its correction, and leave its
        tombstone; return both counts.

        The tombstone (the id and the time, no text) makes later events for the case refused: a
        transformer may still hold some in its buffer, and a batch load may run again. The
        erasure is audited (``principal``, ``now``, the case, ``erase``) in the same transaction,
        even when the case had no data: the request was made, and who made it must be answerable.
        The case's earlier audit records stay: they hold no text, and they are the trail the
        erasure itself is accountable to. ``now`` must be timezone-aware.
        """
        at = _utc(now)
        record = {"at": at, "principal": principal, "case_id": case_id, "action": "erase"}
        with self.engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:  # alone: no logger is between its tombstone check and its commit
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_ERASURE_LOCK})"))
            dialect = postgresql if postgres else sqlite
            connection.execute(
                dialect.insert(erased_cases).values(case_id=case_id, erased_at=at).on_conflict_do_nothing()
            )
            connection.execute(audit_log.insert(), record)
            removed = connection.execute(delete(predictions).where(predictions.c.case_id == case_id)).rowcount
            corrected = connection.execute(delete(corrections).where(corrections.c.case_id == case_id)).rowcount
        return removed, corrected

    def audit(self, case_id: str) -> list[AuditRecord]:
        """A case's audit trail, oldest first (records of the same time in the order written)."""
        query = (
            select(audit_log.c.principal, audit_log.c.at, audit_log.c.case_id, audit_log.c.action)
            .where(audit_log.c.case_id == case_id)
            .order_by(audit_log.c.at, audit_log.c.id)
        )
        with self.engine.connect() as connection:
            return [
                AuditRecord(str(principal), _from_store(at), str(case), cast(AuditAction, action))
                for principal, at, case, action in connection.execute(query)
            ]

    def expire_texts(self, older_than: datetime) -> int:
        """Erase the texts of predictions received before ``older_than``, and delete those without
        a case id whole (no erasure request can name them); return how many rows were touched."""
        with self.engine.begin() as connection:
            anonymous = connection.execute(
                delete(predictions).where(predictions.c.predicted_at < older_than, predictions.c.case_id.is_(None))
            )
            result = connection.execute(
                update(predictions)
                .where(predictions.c.predicted_at < older_than, predictions.c.text.is_not(None))
                .values(text=None)
            )
        return int(result.rowcount) + int(anonymous.rowcount)

    def flag_agents(self, agent_ids: Sequence[str], now: datetime) -> int:
        """Flag agents (a retraining found their labels against the other agents'): their
        corrections leave the quality figures. Return how many were not flagged before."""
        if not agent_ids:
            return 0
        at = _utc(now)
        with self.engine.begin() as connection:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            values = [{"agent_id": agent, "flagged_at": at} for agent in sorted(set(agent_ids))]
            inserted = dialect.insert(flagged_agents).values(values).on_conflict_do_nothing()
            return len(connection.execute(inserted.returning(flagged_agents.c.agent_id)).all())

    def flagged(self) -> list[str]:
        """The flagged agents, by id."""
        with self.engine.connect() as connection:
            query = select(flagged_agents.c.agent_id).order_by(flagged_agents.c.agent_id)
            return [str(agent) for agent in connection.execute(query).scalars()]

    def is_erased(self, case_id: str) -> bool:
        """Whether ``case_id`` was erased (its tombstone exists)."""
        with self.engine.connect() as connection:
            return bool(_erased_among(connection, [case_id]))

    def corrections_since(
        self, agent_ids: Sequence[str], since: datetime, besides: Sequence[str] = ()
    ) -> dict[str, int]:
        """Cases each agent relabelled (its correction the stored one) received since ``since``,
        and the total over all agents under the key ``""``, leaving out the cases ``besides`` (a
        request's own: correcting a case again is no new case): what the daily limits count."""
        after = _utc(since)
        received = func.coalesce(corrections.c.received_at, corrections.c.corrected_at)
        recent = [received >= after]
        if besides:
            recent.append(corrections.c.case_id.not_in(sorted(set(besides))))
        with self.engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(corrections).where(*recent)).scalar_one()
            counts = {"": int(total)}
            if agent_ids:
                query = (
                    select(corrections.c.agent_id, func.count())
                    .where(*recent, corrections.c.agent_id.in_(sorted(set(agent_ids))))
                    .group_by(corrections.c.agent_id)
                )
                counts.update({str(agent): int(n) for agent, n in connection.execute(query)})
        return counts

    def close(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _prediction_row(event: PredictionEvent, received: datetime, principal: str | None) -> dict[str, Any]:
    """The ``predictions`` row of an event: its fields as sent, the store's time and the caller."""
    claimed = event["predicted_at"]
    return {
        **event,
        "case_id": event["case_id"] or None,
        "predicted_at": _utc(received),
        "client_predicted_at": None if claimed is None else datetime.fromtimestamp(claimed, UTC),
        "principal": principal,
    }


def _insert_new_events(postgres: bool) -> Any:
    """The insert of prediction rows that skips an event id already stored, returning the ids of
    the rows it inserted: one statement per dialect, so its compiled form is cached."""
    insert = (postgresql if postgres else sqlite).insert(predictions)
    return insert.on_conflict_do_nothing(index_elements=[predictions.c.event_id]).returning(predictions.c.id)


def _erased_among(connection: Any, case_ids: Sequence[str]) -> list[str]:
    """Which of ``case_ids`` have a tombstone."""
    if not case_ids:
        return []
    found = connection.execute(select(erased_cases.c.case_id).where(erased_cases.c.case_id.in_(list(case_ids))))
    return [str(case_id) for case_id in found.scalars()]


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC. SQLite keeps a timestamp without its offset, so every time is written in
    one zone (which also makes its text sort in time order); a naive time, whose zone nobody knows,
    is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone-aware time is needed (datetime.now(UTC))")
    return moment.astimezone(UTC)


def _from_store(moment: datetime) -> datetime:
    """A stored time, timezone-aware in UTC: SQLite gives back the naive UTC time written by
    :func:`_utc`, PostgreSQL an aware one in the session's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _version_key(version: str) -> tuple[int, Version | str]:
    """Versions in release order; anything that is no version sorts below them, by name."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
