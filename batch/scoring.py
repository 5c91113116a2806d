"""Scoring one batch of rows: the same text steps, language gate and classifier as online.

Kept free of Ray so it can be tested and benchmarked on its own; :mod:`batch.pipeline` maps it
over a Ray Dataset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from case_model import UNKNOWN, LocalDetector, Verdict, load, prepare
from case_model.language import DEFAULT_SUPPORTED, DETECTOR_LANGUAGES

OUTPUT_COLUMNS = (
    "case_id",
    "label",
    "confidence",
    "top_labels",
    "top_probabilities",
    "language",
    "status",
    "error",
    "model_version",
)


@dataclass(frozen=True)
class ScoringConfig:
    """What a scorer needs; passed to every Ray actor."""

    model_dir: str | None = None
    language_mode: str = "local"  # local | off
    supported_languages: tuple[str, ...] = DEFAULT_SUPPORTED
    detector_languages: tuple[str, ...] = DETECTOR_LANGUAGES


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _row_error(case_id: object, text: object) -> str | None:
    if _missing(text):
        return "missing text"
    if not isinstance(text, str):
        return f"text is {type(text).__name__}, not a string"
    if _missing(case_id):
        return "missing case_id"
    return None


class CaseScorer:
    """Scores pandas batches; loads (and verifies) the model once per instance."""

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self.model = load(Path(config.model_dir) if config.model_dir else None)
        self.detector = LocalDetector(config.detector_languages) if config.language_mode == "local" else None
        self._supported = frozenset(config.supported_languages)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Score a batch; every input row gives exactly one output row, bad rows with a reason."""
        n = len(batch)
        case_ids = batch["case_id"].tolist() if "case_id" in batch else [None] * n
        texts = batch["text"].tolist() if "text" in batch else [None] * n
        out = {
            "case_id": ["" if _missing(c) else str(c) for c in case_ids],
            "label": [""] * n,
            "confidence": np.zeros(n, dtype=np.float32),
            "top_labels": [[] for _ in range(n)],
            "top_probabilities": [[] for _ in range(n)],
            "language": [UNKNOWN] * n,
            "status": [Verdict.OK.value] * n,
            "error": [""] * n,
            "model_version": [self.model.version] * n,
        }
        to_score: list[int] = []
        cleaned: list[str] = []
        for i, (case_id, text) in enumerate(zip(case_ids, texts, strict=True)):
            error = _row_error(case_id, text)
            if error:
                out["status"][i], out["error"][i] = Verdict.INVALID.value, error
                continue
            prepared = prepare(text)
            if prepared.verdict is not Verdict.OK:
                out["status"][i] = prepared.verdict.value
                continue
            if self.detector is not None:
                language = self.detector.detect(prepared.text).language
                out["language"][i] = language
                if language != UNKNOWN and language not in self._supported:
                    out["status"][i] = Verdict.UNSUPPORTED_LANGUAGE.value
                    continue
            to_score.append(i)
            cleaned.append(prepared.text)
        self._score(out, to_score, cleaned)
        return pd.DataFrame(out, columns=list(OUTPUT_COLUMNS))

    def _score(self, out: dict, rows: Sequence[int], texts: list[str]) -> None:
        if not rows:
            return
        predictions = self.model.predict(texts)
        for j, i in enumerate(rows):
            out["label"][i] = predictions.labels[j]
            out["confidence"][i] = predictions.confidences[j]
            out["top_labels"][i] = predictions.top_labels[j]
            out["top_probabilities"][i] = predictions.top_probabilities[j].tolist()
