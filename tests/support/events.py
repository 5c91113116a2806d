"""Prediction events as the prediction log sends them: for tests that post them to the feedback
service (:func:`event`) and for tests that fill a store directly (:func:`answered`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from case_feedback.events import PredictionEvent


def event(case_id: str | None, version: str, label: str = "display", status: str = "ok", **fields: Any) -> dict:
    """A prediction-log event as the transformer sends it."""
    return {
        "case_id": case_id,
        "request_id": f"req-{case_id}",
        "model_version": version,
        "label": label,
        "confidence": 0.9,
        "status": status,
        "language": "en",
        "top_labels": [label, "storage", "boot_bios"],
        "top_probabilities": [0.9, 0.06, 0.04],
        "text": f"the case {case_id} as the model saw it",
        "predicted_at": time.time(),
        "source": "online",
        **fields,
    }


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
    """One answered case as the store receives it (no emitter's time, no top labels unless named)."""
    fields = event(
        case_id,
        model_version,
        label,
        request_id=request_id,
        event_id=event_id,
        confidence=confidence,
        top_labels=list(top_labels),
        top_probabilities=list(top_probabilities),
        text=text,
        predicted_at=None,
    )
    return cast(PredictionEvent, fields)
