"""What the feedback service takes and answers, as pydantic models: they validate the bodies and
write the OpenAPI document. Every string has a length limit; unknown fields are refused; a number
is finite (JSON's NaN and Infinity, which Python's parser accepts, no store keeps)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from case_feedback.service.store import MAX_EVENT_ID_CHARS
from case_serving.identifiers import MAX_CASE_ID_CHARS, MAX_REQUEST_ID_CHARS, unstorable

#: Latest time a prediction may claim (2100-01-01 UTC): far beyond any real one, inside what
#: every store's timestamp type holds.
LATEST_TIME = 4_102_444_800.0


def storable(value: str) -> str:
    """Refuse what no store keeps (:func:`case_serving.identifiers.unstorable`)."""
    reason = unstorable(value)
    if reason:
        raise ValueError(reason)
    return value


#: A string the stores can keep.
Text = Annotated[str, AfterValidator(storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class CorrectionIn(_Strict):
    """An agent's label for a case."""

    case_id: Text = Field(min_length=1, max_length=MAX_CASE_ID_CHARS, description="The CRM's case id.")
    label: Text = Field(min_length=1, max_length=128, description="The label the agent chose (a known one).")
    agent_id: Text | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Who corrected it. With an agent's token: the token's subject (another one is a 403); "
        "with the CRM's: required, and the CRM is recorded beside it.",
    )
    corrected_at: float | None = Field(
        None,
        ge=0.0,
        le=LATEST_TIME,
        description="When the agent made it, seconds since the epoch (UTC); default: on receipt. The latest "
        "correction of a case by this time wins (a later one than receipt counts as receipt), so a retried "
        "stale correction never overwrites a newer one.",
    )


class CorrectionsIn(_Strict):
    """``POST /v1/corrections``: one or more corrections; for the same case, the latest one wins."""

    corrections: list[CorrectionIn] = Field(min_length=1)


class CorrectionsOut(BaseModel):
    """How many corrections were stored, and which cases the store has no prediction of."""

    accepted: int
    unknown_case_ids: list[str]


class PredictionIn(_Strict):
    """One answered case, as the transformer (or a batch run) logs it: the fields of
    :class:`case_feedback.events.PredictionEvent`, validated."""

    case_id: Text | None = Field(None, max_length=MAX_CASE_ID_CHARS)
    request_id: Text = Field("", max_length=MAX_REQUEST_ID_CHARS)
    event_id: Text | None = Field(
        None,
        min_length=1,
        max_length=MAX_EVENT_ID_CHARS,
        description="The emitter's idempotency key (online: a digest of request id, case index, case id and "
        "text; a batch load: its run and row): an event whose key is stored "
        "already adds nothing, so a retry or a rerun batch load is harmless.",
    )
    model_version: Text = Field(min_length=1, max_length=64)
    label: Text = Field(max_length=128)
    confidence: float = Field(ge=0.0, le=1.0)
    status: Text = Field(min_length=1, max_length=32)
    language: Text = Field(min_length=1, max_length=16)
    top_labels: list[Annotated[Text, Field(max_length=128)]] = Field(max_length=10)
    top_probabilities: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(max_length=10)
    text: Text = Field(max_length=16_000, description="The cleaned, PII-masked text the model saw.")
    predicted_at: float | None = Field(
        None,
        ge=0.0,
        le=LATEST_TIME,
        description="The emitter's time, seconds since the epoch (UTC): kept as information only; the "
        "prediction's time is the store's clock at receipt.",
    )
    source: Literal["online", "batch"] = "online"


class PredictionsIn(_Strict):
    """``POST /v1/predictions``: the prediction log's events."""

    predictions: list[PredictionIn] = Field(min_length=1)


class PredictionsOut(BaseModel):
    """What became of the events: each is stored, a duplicate, or refused because its case was erased."""

    stored: int
    duplicates: int = Field(0, description="Events whose event_id was stored already (a retry, a rerun).")
    erased: int = Field(0, description="Events of erased cases: refused, so an erasure holds.")


class ConfusionCell(BaseModel):
    """How many reviewed cases had this predicted label and this agent's label."""

    predicted: str
    corrected: str
    count: int


class VersionQuality(BaseModel):
    """What agents made of one model version's answers."""

    model_version: str
    predictions: int = Field(description="Predictions logged.")
    reviewed: int = Field(description="Classified cases an agent gave a label.")
    corrected: int = Field(description="Reviewed cases whose label the agent changed.")
    agreement_rate: float | None = Field(description="Share of reviewed cases kept; null before any review.")
    confusion: list[ConfusionCell]


class QualityOut(BaseModel):
    """``GET /v1/quality``: every model version that logged a prediction, newest first."""

    model_versions: list[VersionQuality]


class ErasureOut(BaseModel):
    """``DELETE /v1/cases?case_id=``: what was erased. The case's tombstone stays: later events
    for it are refused."""

    case_id: str
    predictions_deleted: int
    corrections_deleted: int


class AuditRecordOut(BaseModel):
    """One change to a case: who, when, what (never the case's text or labels)."""

    principal: str = Field(description="The authenticated caller (the token's subject).")
    at: float = Field(description="Seconds since the epoch (UTC), the server's clock.")
    case_id: str
    action: str = Field(description="correct or erase.")


class AuditOut(BaseModel):
    """``GET /v1/audit?case_id=``: the case's audit records, oldest first; they outlive its erasure."""

    records: list[AuditRecordOut]


class Error(BaseModel):
    """Every refusal: one line naming the problem."""

    error: str
