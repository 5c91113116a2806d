"""Scoring one batch of rows: the same text steps, language gate and classifier as online.

Kept free of Ray so it can be tested and benchmarked on its own; :mod:`batch.pipeline` maps it
over a Ray Dataset.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from case_model import UNKNOWN, Verdict, load, prepare
from case_model.language import DEFAULT_SUPPORTED, DETECT_CHARS, DETECTOR_LANGUAGES
from transformer.language import build_detection
from transformer.settings import TransformerSettings

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
    #: external (the language service, through the transformer's client), local, or off.
    language_mode: str = "local"
    language_url: str = "http://127.0.0.1:8082/v1/detect"
    #: A batch is one call to the language service: a larger budget than one online request's.
    language_timeout_ms: float = 5000.0
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
        settings = TransformerSettings(
            language_mode=config.language_mode,
            language_url=config.language_url,
            language_timeout_ms=config.language_timeout_ms,
            detector_languages=config.detector_languages,
        )
        # The online transformer's detection, as it is; it is async, so each scorer runs it on a
        # private event loop (one per Ray actor).
        self._loop = asyncio.new_event_loop()
        self.language, self._client = build_detection(settings)
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
        candidates: list[int] = []
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
            candidates.append(i)
            cleaned.append(prepared.text)
        languages = self._loop.run_until_complete(self.language.detect([t[:DETECT_CHARS] for t in cleaned]))
        to_score, kept = [], []
        for i, text, language in zip(candidates, cleaned, languages, strict=True):
            out["language"][i] = language
            if language != UNKNOWN and language not in self._supported:
                out["status"][i] = Verdict.UNSUPPORTED_LANGUAGE.value
            else:
                to_score.append(i)
                kept.append(text)
        self._score(out, to_score, kept)
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
