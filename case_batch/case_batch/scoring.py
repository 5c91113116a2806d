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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from case_language.client import ClientConfig, Mode, build_detection
from case_language.protocol import DEFAULT_URL
from case_model import CaseFlow, StatusRules, load
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
        """Score a batch; every input row gives exactly one output row, bad rows with a reason.

        The status decisions are the model package's :class:`case_model.CaseFlow`, the very code
        the transformer runs for a request; this only reads the rows and fills the columns.
        """
        n = len(batch)
        case_ids = batch["case_id"].tolist() if "case_id" in batch else [None] * n
        texts = batch["text"].tolist() if "text" in batch else [None] * n
        errors = [_row_error(case_id, text) or "" for case_id, text in zip(case_ids, texts, strict=True)]
        flow = CaseFlow.start([None if error else text for text, error in zip(texts, errors, strict=True)])
        candidates = flow.classifiable()
        if candidates:
            languages = self._loop.run_until_complete(self.language.detect(flow.texts_of(candidates)))
            flow.record_languages(candidates, languages, self.config.rules)
        out: dict[str, Any] = {
            "case_id": ["" if _missing(c) else str(c) for c in case_ids],
            "label": [""] * n,
            "confidence": np.zeros(n, dtype=np.float32),
            "top_labels": [[] for _ in range(n)],
            "top_probabilities": [[] for _ in range(n)],
            "language": flow.languages,
            "status": None,
            "error": errors,
            "model_version": [self.model.version] * n,
            "text": flow.texts,
        }
        self._score(out, flow)
        out["status"] = flow.status_values()
        return pd.DataFrame(out, columns=list(OUTPUT_COLUMNS))

    def _score(self, out: dict[str, Any], flow: CaseFlow) -> None:
        rows = flow.classifiable()
        if not rows:
            return
        predictions = self.model.predict(flow.texts_of(rows))
        for j, i in enumerate(rows):
            out["label"][i] = predictions.labels[j]
            out["confidence"][i] = predictions.confidences[j]
            out["top_labels"][i] = predictions.top_labels[j]
            out["top_probabilities"][i] = predictions.top_probabilities[j].tolist()
        flow.record_confidences(rows, predictions.confidences.tolist(), self.config.rules)

    def close(self) -> None:
        """Close the language client's connections and the private loop."""
        if self._client is not None:
            self._loop.run_until_complete(self._client.close())
        self._loop.close()
