"""What the feedback service takes and answers, as pydantic models: they validate the bodies and
write the OpenAPI document. Every string has a length limit; unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from case_serving.identifiers import MAX_CASE_ID_CHARS, MAX_REQUEST_ID_CHARS

#: Latest time a prediction may claim (2100-01-01 UTC): far beyond any real one, inside what
#: every store's timestamp type holds.
LATEST_TIME = 4_102_444_800.0


def storable(value: str) -> str:
    """Refuse what no store keeps: NUL (PostgreSQL's text cannot hold it) and lone surrogates
    (not Unicode; UTF-8 cannot encode them)."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode (a lone surrogate)") from None
    return value


#: A string the stores can keep.
Text = Annotated[str, AfterValidator(storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


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


class CorrectionsIn(_Strict):
    """``POST /v1/corrections``: one or more corrections; for the same case, the last one wins."""

    corrections: list[CorrectionIn] = Field(min_length=1)


class CorrectionsOut(BaseModel):
    """How many corrections were stored, and which cases the store has no prediction of."""

    accepted: int
    unknown_case_ids: list[str]


class PredictionIn(_Strict):
    """One answered case, as the transformer (or a batch run) logs it."""

    case_id: Text | None = Field(None, max_length=MAX_CASE_ID_CHARS)
    request_id: Text = Field("", max_length=MAX_REQUEST_ID_CHARS)
    model_version: Text = Field(min_length=1, max_length=64)
    label: Text = Field(max_length=128)
    confidence: float = Field(ge=0.0, le=1.0)
    status: Text = Field(min_length=1, max_length=32)
    language: Text = Field(min_length=1, max_length=16)
    top_labels: list[Annotated[Text, Field(max_length=128)]] = Field(max_length=10)
    top_probabilities: list[float] = Field(max_length=10)
    text: Text = Field(max_length=16_000, description="The cleaned, PII-masked text the model saw.")
    predicted_at: float = Field(ge=0.0, le=LATEST_TIME, description="Seconds since the epoch (UTC).")
    source: Literal["online", "batch"] = "online"


class PredictionsIn(_Strict):
    """``POST /v1/predictions``: the prediction log's events."""

    predictions: list[PredictionIn] = Field(min_length=1)


class PredictionsOut(BaseModel):
    """How many events were stored."""

    stored: int


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
    """``DELETE /v1/cases/{case_id}``: what was erased."""

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
