"""Prediction events as the prediction log sends them, for tests that fill a store directly."""

from __future__ import annotations

from collections.abc import Sequence

from case_feedback.events import PredictionEvent


def answered(
    case_id: str | None,
    text: str = "text",
    *,
    label: str = "display",
    confidence: float = 0.9,
    top_labels: Sequence[str] = (),
    top_probabilities: Sequence[float] = (),
    model_version: str = "1.0.0",
    request_id: str = "r",
    event_id: str | None = None,
) -> PredictionEvent:
    """One answered case in English with status ``ok``; the fields a test does not name are plain."""
    return PredictionEvent(
        case_id=case_id,
        request_id=request_id,
        event_id=event_id,
        model_version=model_version,
        label=label,
        confidence=confidence,
        status="ok",
        language="en",
        top_labels=list(top_labels),
        top_probabilities=list(top_probabilities),
        text=text,
        predicted_at=None,
        source="online",
    )
