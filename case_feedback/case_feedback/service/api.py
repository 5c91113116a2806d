"""The feedback service's HTTP API (FastAPI, which also writes its OpenAPI document).

Store calls block, and so does decoding a body of a thousand items: both run in a thread, and the
event loop keeps answering health checks. A body is bounded in bytes before it is read (the
corrections route by a limit sized to its item limit), and its items are counted before any is
validated. Every refusal is ``{"error": ...}``: 400 for a body that does not validate or an
unknown label or an unserved model version, 413 for too large a body or too many items, 429 past
a caller's rate or a daily correction limit, 503 when the store does not answer or no served model
has been read yet (the transformer keeps its events and sends them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError

from case_feedback.events import PredictionEvent
from case_feedback.service.contract import (
    AuditOut,
    AuditRecordOut,
    ConfusionCell,
    CorrectionsIn,
    CorrectionsOut,
    ErasureOut,
    Error,
    PredictionsIn,
    PredictionsOut,
    QualityOut,
    VersionQuality,
    storable,
)
from case_feedback.service.metrics import FeedbackMetrics, QualityCache
from case_feedback.service.served_models import Catalogue, ServedModels
from case_feedback.service.settings import FeedbackSettings
from case_feedback.service.store import Correction, Store
from case_serving import access_http, http_errors, openapi
from case_serving.access import Forbidden, Gate
from case_serving.body_limit import BodyLimitMiddleware
from case_serving.identifiers import MAX_CASE_ID_CHARS
from case_serving.json_body import json_object
from case_serving.readiness import Drain, ReadinessGate
from case_serving.refusals import Invalid, Throttled, TooLarge, Unavailable, name_offenders
from case_serving.tokens import Principal

log = logging.getLogger("case_feedback")
_REFUSALS: dict[int | str, dict[str, object]] = {
    400: {
        "model": Error,
        "description": "The body does not validate, names a label no served version has, or a version not served.",
    },
    401: {"model": Error, "description": "No bearer token, or one that does not verify (WWW-Authenticate: Bearer)."},
    403: {"model": Error, "description": "The token's roles do not allow this call, or name another agent."},
    429: {
        "model": Error,
        "description": "Past the caller's rate (Retry-After says when to come back), or a daily correction limit.",
    },
    413: {"model": Error, "description": "The body is too large, or holds too many items."},
    503: {"model": Error, "description": "The store does not answer, or no served model has been read yet."},
}


class TooMany(TooLarge):
    """More items in one request than the service takes."""


class NotServed(Invalid):
    """Labels no served version has, or a model version no server serves."""


class NotKnownYet(Unavailable):
    """No served model has been read yet: what to accept is not known."""

    def __init__(self) -> None:
        super().__init__("no served model has said its version and labels yet; try again", retry_after=5)


class BadParameter(Invalid):
    """A path or query parameter no store can look up (a NUL, a lone surrogate)."""


class BadBody(Invalid):
    """A body that is not the JSON object its route takes."""


class DailyLimit(Throttled):
    """More corrections than an agent, or all agents together, may make in a day."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=3600)


Body = TypeVar("Body", bound=BaseModel)


def _parameter(value: str, what: str) -> str:
    try:
        return storable(value)
    except ValueError as error:
        raise BadParameter(f"{what} {error}") from None


def _decode(model: type[Body], raw: bytes, items: str, maximum: int) -> Body:
    """``raw`` as ``model``, its ``items`` list counted before any item is validated (run in a
    thread: a megabyte of JSON is milliseconds of CPU the event loop must not spend).

    Raises:
        BadBody: not JSON, or not an object.
        TooMany: more than ``maximum`` items.
        ValidationError: an item does not validate.
    """
    document = json_object(raw, BadBody)
    listed = document.get(items)
    if isinstance(listed, list):
        _check_count(len(listed), maximum)
    return model.model_validate(document)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its body itself (to decode it off the loop)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _responses(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: _REFUSALS[code] for code in codes}


def create_app(
    store: Store, served: ServedModels, settings: FeedbackSettings, drain: Drain, gate: Gate | None = None
) -> FastAPI:
    """The application: routes over ``store``, each open to its roles only, refusals as
    ``{"error": ...}``, a body limit, a readiness gate, Prometheus metrics, and texts erased once
    past their retention. Labels and versions are checked against ``served`` (read from the served
    models while the app runs). ``gate`` defaults to the one ``settings`` describe."""
    gate = gate or settings.gate()
    on_behalf = frozenset(settings.on_behalf_roles)
    correctors = Depends(access_http.requires(gate, settings.corrections_roles))
    loggers = Depends(access_http.requires(gate, settings.predictions_roles))
    erasers = Depends(access_http.requires(gate, settings.erase_roles))
    auditors = Depends(access_http.requires(gate, settings.audit_roles))
    readers = Depends(access_http.requires(gate, settings.quality_roles))
    registry = CollectorRegistry()
    quality = QualityCache(store, settings.quality_cache_seconds)
    metrics = FeedbackMetrics(quality, registry)

    def catalogue() -> Catalogue:
        known = served.catalogue()
        if known is None:
            raise NotKnownYet
        return known

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_erase_expired_texts(store, settings)), asyncio.create_task(served.watch())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()

    app = FastAPI(
        title="case-classifier feedback service",
        version="1.0.0",
        description="The prediction log, agents' corrections and quality per model version.",
        lifespan=lifespan,
    )
    http_errors.install(app)
    access_http.install(app)
    openapi.install(app, openapi.without_validation_errors)
    # Refusals (the classes above) are answered by http_errors with their status; these map
    # what the libraries raise.
    app.add_exception_handler(ValidationError, _invalid_body)
    app.add_exception_handler(DBAPIError, _store_unavailable)
    app.add_middleware(ReadinessGate, ready=lambda: not drain.draining, is_readiness=lambda path: path == "/readyz")
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        by_path={"/v1/corrections": settings.max_corrections_body_bytes},
    )

    @app.post(
        "/v1/corrections",
        responses=_responses(400, 401, 403, 413, 429, 503),
        openapi_extra=_body_schema(CorrectionsIn),
    )
    async def post_corrections(request: Request, caller: Principal = correctors) -> CorrectionsOut:
        """Store agents' corrections; the latest one for a case (by the agent's time) wins,
        repeating one changes nothing.

        Who corrected is a fact of the token, not a field: an agent's corrections are its own
        (the token's subject); the CRM names the agent, and both are recorded. Each agent, and
        all of them together, may relabel only so many cases a day (429 above)."""
        body = await asyncio.to_thread(_decode, CorrectionsIn, await request.body(), "corrections", settings.max_items)
        _check_labels(catalogue(), [c.label for c in body.corrections])
        rows = [
            Correction(
                c.case_id,
                c.label,
                _agent_of(c.agent_id, caller, on_behalf),
                caller.name,
                None if c.corrected_at is None else datetime.fromtimestamp(c.corrected_at, UTC),
            )
            for c in body.corrections
        ]
        now = datetime.now(UTC)
        await asyncio.to_thread(check_daily_limits, rows, now)
        never_predicted = await asyncio.to_thread(store.add_corrections, rows, now)
        metrics.corrections(len(rows), len(never_predicted))
        return CorrectionsOut(accepted=len(rows), unknown_case_ids=never_predicted)

    def check_daily_limits(rows: Sequence[Correction], now: datetime) -> None:
        per_agent, per_day = settings.corrections_per_agent_per_day, settings.corrections_per_day
        if per_agent <= 0 and per_day <= 0:
            return
        latest = {row.case_id: row.agent_id for row in rows}
        incoming = Counter(latest.values())
        counts = store.corrections_since(list(incoming), now - timedelta(days=1), besides=list(latest))
        if per_day > 0 and counts[""] + sum(incoming.values()) > per_day:
            metrics.limited("all")
            raise DailyLimit(f"the corrections of the last 24 hours would pass the limit of {per_day} cases")
        over = sorted(agent for agent, n in incoming.items() if per_agent > 0 and counts.get(agent, 0) + n > per_agent)
        if over:
            metrics.limited("agent")
            raise DailyLimit(
                f"agent(s) {name_offenders(over)} would pass the limit of {per_agent} cases relabelled in 24 hours"
            )

    @app.post(
        "/v1/predictions",
        responses=_responses(400, 401, 403, 413, 429, 503),
        openapi_extra=_body_schema(PredictionsIn),
    )
    async def post_predictions(request: Request, caller: Principal = loggers) -> PredictionsOut:
        """Store answered cases (the transformer's prediction log, or a batch run's output).

        The time of each is the store's clock at receipt (the emitter's is kept as information);
        an event whose ``event_id`` is stored already adds nothing; one of an erased case is
        refused. All are counted in the answer and the metrics."""
        body = await asyncio.to_thread(_decode, PredictionsIn, await request.body(), "predictions", settings.max_items)
        known = catalogue()
        unserved = known.unserved([p.model_version for p in body.predictions])
        if unserved:
            versions = ", ".join(sorted(known.versions or ()))
            raise NotServed(f"model version(s) {name_offenders(unserved)} not served; served: {versions}")
        _check_labels(known, [label for p in body.predictions for label in (p.label, *p.top_labels)])
        events = [cast(PredictionEvent, p.model_dump()) for p in body.predictions]
        logged = await asyncio.to_thread(store.add_predictions, events, datetime.now(UTC), caller.name)
        metrics.logged(logged)
        if logged.erased:
            log.info("events of erased cases refused", extra={"events": logged.erased})
        return PredictionsOut(stored=logged.stored, duplicates=logged.duplicates, erased=logged.erased)

    @app.get("/v1/quality", responses=_responses(401, 403, 429, 503))
    def get_quality(
        model_version: str | None = Query(None, max_length=64, description="Only this version."),
        _: Principal = readers,
    ) -> QualityOut:
        """Predictions logged, cases reviewed and corrected, agreement and confusion, per version
        (computed at most once per ``quality_cache_seconds``, not per call)."""
        wanted = None if model_version is None else _parameter(model_version, "model_version")
        return QualityOut(
            model_versions=[
                VersionQuality(
                    model_version=q.model_version,
                    predictions=q.predictions,
                    reviewed=q.reviewed,
                    corrected=q.corrected,
                    agreement_rate=q.agreement_rate,
                    confusion=[
                        ConfusionCell(predicted=predicted, corrected=corrected, count=count)
                        for (predicted, corrected), count in sorted(q.confusion.items())
                    ],
                )
                for q in quality.figures()
                if wanted is None or q.model_version == wanted
            ]
        )

    def erase(case_id: str, caller: Principal) -> ErasureOut:
        predictions, corrections = store.erase_case(_parameter(case_id, "case_id"), caller.name, datetime.now(UTC))
        log.info(
            "case erased",
            extra={"principal": caller.name, "predictions": predictions, "corrections": corrections},
        )
        return ErasureOut(case_id=case_id, predictions_deleted=predictions, corrections_deleted=corrections)

    @app.delete("/v1/cases", responses=_responses(400, 401, 403, 429, 503))
    def delete_case(
        case_id: str = Query(min_length=1, max_length=MAX_CASE_ID_CHARS, description="The case (any id, '/' too)."),
        caller: Principal = erasers,
    ) -> ErasureOut:
        """Erase a case: its texts, predictions and correction (a customer's erasure request).
        Its audit records stay, with one more saying who erased it, and its tombstone: events
        for it that arrive later are refused."""
        return erase(case_id, caller)

    @app.delete("/v1/cases/{case_id}", responses=_responses(400, 401, 403, 429, 503))
    def delete_case_by_path(
        case_id: str = Path(min_length=1, max_length=MAX_CASE_ID_CHARS), caller: Principal = erasers
    ) -> ErasureOut:
        """Erase a case named in the path (an id without '/'; ``?case_id=`` takes any id)."""
        return erase(case_id, caller)

    @app.get("/v1/audit", responses=_responses(400, 401, 403, 429, 503))
    def get_audit(
        case_id: str = Query(min_length=1, max_length=MAX_CASE_ID_CHARS, description="The case."),
        _: Principal = auditors,
    ) -> AuditOut:
        """Who changed the case, when, and how (correct, erase); no text, no label."""
        records = store.audit(_parameter(case_id, "case_id"))
        return AuditOut(
            records=[
                AuditRecordOut(principal=r.principal, at=r.at.timestamp(), case_id=r.case_id, action=r.action)
                for r in records
            ]
        )

    @app.get("/healthz")
    def live() -> dict[str, bool]:
        """The process serves."""
        return {"live": True}

    @app.get("/readyz", responses={503: _REFUSALS[503]})
    def ready() -> JSONResponse:
        """Ready for traffic: the store answers (false, too, from the moment a shutdown begins)."""
        up = store.ping()
        return JSONResponse({"ready": up}, status_code=200 if up else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        """Prometheus exposition: the quality figures and the service's counters."""
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _agent_of(named: str | None, caller: Principal, on_behalf: frozenset[str]) -> str:
    """The agent a correction is stored under.

    Raises:
        Forbidden: an agent naming another agent.
        BadParameter: an on-behalf caller (the CRM) naming no agent.
    """
    if "*" in caller.roles or not caller.roles.isdisjoint(on_behalf):
        if named is None:
            raise BadParameter("agent_id: required when submitting on an agent's behalf")
        return named
    if named is not None and named != caller.subject:
        raise Forbidden("an agent may submit only its own corrections")
    return caller.subject


def _check_labels(known: Catalogue, labels: Iterable[str]) -> None:
    unknown = known.unknown(list(labels))
    if unknown:
        labels = ", ".join(sorted(known.labels))
        raise NotServed(f"unknown label(s) {name_offenders(unknown)}; the served versions' labels: {labels}")


def _check_count(count: int, maximum: int) -> None:
    if count > maximum:
        raise TooMany(f"{count} items in one request; at most {maximum}")


async def _invalid_body(_: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, ValidationError):  # registered for that class only
        raise error
    return JSONResponse({"error": http_errors.describe(error.errors())}, status_code=400)


async def _store_unavailable(_: Request, error: Exception) -> JSONResponse:
    log.warning("store unavailable", extra={"error": type(error).__name__})
    return JSONResponse({"error": "the store does not answer; try again"}, status_code=503)


async def _erase_expired_texts(store: Store, settings: FeedbackSettings) -> None:
    """Erase texts past their retention, at start and then every ``retention_interval_seconds``."""
    if settings.text_retention_days <= 0:
        return
    while True:
        cutoff = datetime.now(UTC) - timedelta(days=settings.text_retention_days)
        started = time.perf_counter()
        try:
            erased = await asyncio.to_thread(store.expire_texts, cutoff)
            took_ms = round((time.perf_counter() - started) * 1000)
            log.info("texts past retention erased", extra={"texts": erased, "ms": took_ms})
        except DBAPIError as error:
            log.warning("retention skipped: the store does not answer", extra={"error": type(error).__name__})
        await asyncio.sleep(settings.retention_interval_seconds)
