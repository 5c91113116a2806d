"""The prediction log's event: one answered case, as the emitter sends it and the service stores it.

The one definition both sides share; the service's pydantic contract
(:mod:`case_feedback.service.contract`) validates exactly these fields.
"""

from __future__ import annotations

from typing import Literal, TypedDict

DEFAULT_PORT = 8083
PREDICTIONS_PATH = "/v1/predictions"
#: Where the transformer sends its events unless told otherwise (the local stack's service).
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}{PREDICTIONS_PATH}"


class PredictionEvent(TypedDict):
    """One answered case. ``text`` is the cleaned, PII-masked text the model saw, never the raw one."""

    case_id: str | None
    request_id: str
    model_version: str
    label: str
    confidence: float
    status: str
    language: str
    top_labels: list[str]
    top_probabilities: list[float]
    text: str
    predicted_at: float
    source: Literal["online", "batch"]
