"""Scoring one batch of rows: the same text steps, language detection, status rules and classifier
as the online service.

Kept free of Ray so it can be tested and benchmarked on its own; :mod:`case_batch.pipeline` maps it
over a Ray Dataset. Its configuration is its own (:class:`ScoringConfig`); the rules it shares with
the transformer come from the model package (:class:`case_model.StatusRules`) and the language
service's client (:mod:`case_language.client`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from case_language.client import ClientConfig, Mode, build_detection
from case_language.protocol import DEFAULT_URL
from case_model import UNKNOWN, StatusRules, Verdict, load, prepare
from case_model.artifact import bundled_artifact_dir
from case_model.language import DETECTOR_LANGUAGES
from case_signing import verify_directory

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
    # The cleaned, PII-masked text the model saw (empty for invalid rows): what a correction of a
    # batch-classified case is learnt from once the output is loaded into the feedback store.
    "text",
)


@dataclass(frozen=True)
class ScoringConfig:
    """What a scorer needs; passed to every Ray actor."""

    model_dir: str | None = None
    #: external (the language service, through its client), local, or off.
    language_mode: Mode = "local"
    #: A batch is one call to the language service: a larger budget than one online request's.
    language: ClientConfig = field(
        default_factory=lambda: ClientConfig(url=DEFAULT_URL, timeout_seconds=5.0, batch_max_size=1024)
    )
    detector_languages: tuple[str, ...] = DETECTOR_LANGUAGES
    rules: StatusRules = field(default_factory=StatusRules)


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
        # Every actor checks what it loads: on a cluster the actors run in pods of their own.
        directory = Path(config.model_dir) if config.model_dir else bundled_artifact_dir()
        verify_directory(directory)
        self.model = load(directory if config.model_dir else None)
        # The client is async: each scorer runs it on a private event loop (one per Ray actor).
        self._loop = asyncio.new_event_loop()
        self.language, self._client = build_detection(config.language_mode, config.language, config.detector_languages)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Score a batch; every input row gives exactly one output row, bad rows with a reason."""
        n = len(batch)
        case_ids = batch["case_id"].tolist() if "case_id" in batch else [None] * n
        texts = batch["text"].tolist() if "text" in batch else [None] * n
        out: dict[str, Any] = {
            "case_id": ["" if _missing(c) else str(c) for c in case_ids],
            "label": [""] * n,
            "confidence": np.zeros(n, dtype=np.float32),
            "top_labels": [[] for _ in range(n)],
            "top_probabilities": [[] for _ in range(n)],
            "language": [UNKNOWN] * n,
            "status": [Verdict.OK.value] * n,
            "error": [""] * n,
            "model_version": [self.model.version] * n,
            "text": [""] * n,
        }
        candidates: list[int] = []
        cleaned: list[str] = []
        for i, (case_id, text) in enumerate(zip(case_ids, texts, strict=True)):
            error = _row_error(case_id, text)
            if error:
                out["status"][i], out["error"][i] = Verdict.INVALID.value, error
                continue
            prepared = prepare(text)
            out["status"][i] = prepared.verdict.value
            out["text"][i] = prepared.text
            if prepared.verdict is Verdict.OK:
                candidates.append(i)
                cleaned.append(prepared.text)
        languages = self._loop.run_until_complete(self.language.detect(cleaned)) if cleaned else []
        to_score, kept = [], []
        for i, text, language in zip(candidates, cleaned, languages, strict=True):
            out["language"][i] = language
            verdict = self.config.rules.after_language(Verdict.OK, language)
            out["status"][i] = verdict.value
            if verdict is Verdict.OK:
                to_score.append(i)
                kept.append(text)
        self._score(out, to_score, kept)
        return pd.DataFrame(out, columns=list(OUTPUT_COLUMNS))

    def _score(self, out: dict[str, Any], rows: Sequence[int], texts: list[str]) -> None:
        if not rows:
            return
        predictions = self.model.predict(texts)
        for j, i in enumerate(rows):
            out["label"][i] = predictions.labels[j]
            out["confidence"][i] = predictions.confidences[j]
            out["top_labels"][i] = predictions.top_labels[j]
            out["top_probabilities"][i] = predictions.top_probabilities[j].tolist()
            out["status"][i] = self.config.rules.after_prediction(Verdict.OK, float(predictions.confidences[j])).value

    def close(self) -> None:
        """Close the language client's connections and the private loop."""
        if self._client is not None:
            self._loop.run_until_complete(self._client.close())
        self._loop.close()
