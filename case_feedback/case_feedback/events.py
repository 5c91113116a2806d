"""The prediction log's event: one answered case, as the emitter sends it and the service stores it.

The one definition of the record: the emitter builds it, the service's pydantic contract
(:mod:`case_feedback.service.contract`) validates exactly these fields, and the store writes it
as it came, adding only what the server owns (its clock at receipt, the authenticated caller).
"""

from __future__ import annotations

import hashlib
from typing import Literal, TypedDict

DEFAULT_PORT = 8083
PREDICTIONS_PATH = "/v1/predictions"
#: Where the transformer sends its events unless told otherwise (the local stack's service).
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}{PREDICTIONS_PATH}"


class PredictionEvent(TypedDict):
    """One answered case. ``text`` is the cleaned, PII-masked text the model saw, never the raw one."""

    case_id: str | None
    request_id: str
    #: The idempotency key (:func:`event_id`; a batch run: the run and the row), so a retried
    #: send, a retried request or a rerun load adds nothing to the store. ``None`` from a client
    #: that sends none: its events are never taken for duplicates.
    event_id: str | None
    model_version: str
    label: str
    confidence: float
    status: str
    language: str
    top_labels: list[str]
    top_probabilities: list[float]
    text: str
    #: The emitter's clock, seconds since the epoch: information only, the store dates each event
    #: at receipt.
    predicted_at: float | None
    source: Literal["online", "batch"]


def event_id(request_id: str, index: int, case_id: str | None, text: str) -> str:
    """The idempotency key of an online event: a digest of the request id, the case's index, its
    id and its text. A retry of the same request gives the same key; a client that reuses one
    request id for different cases does not make them duplicates (the id alone would)."""
    # Each part followed by a NUL, hashed in one call (one string built, one encode, one update).
    parts = f"{request_id}\x00{index}\x00{case_id or ''}\x00{text}\x00"
    digest = hashlib.sha256(parts.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]
