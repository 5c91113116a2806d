"""The transformer's own Prometheus metrics, served with KServe's on ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

CASES = Counter("case_classifier_cases", "Cases answered, by status and language", ["status", "language"])
PREDICTED_LABELS = Counter(
    "case_classifier_predicted_labels", "Predicted labels (watch for drift)", ["label", "model_version"]
)
PREDICTOR_CALLS = Counter("case_classifier_predictor_calls", "Calls to the predictor by outcome", ["outcome"])
#: Every outcome's series exists from the start at 0: a series first seen with its first failures
#: already counted shows no increase, so an alert on the rate would miss the first burst.
#: Bound once: a ``labels()`` lookup per call takes a lock and builds a tuple on the request path.
CALLS = {
    outcome: PREDICTOR_CALLS.labels(outcome)
    for outcome in ("ok", "skipped", "unavailable", "error", "version_mismatch")
}
MODEL_INFO = Gauge("case_classifier_model_info", "The model version served (value 1)", ["model_version"])
#: From a request's arrival in the transformer to its answer, per request: the latency a canary is
#: judged by (``case-rollout analyze`` compares its p99 with the stable version's).
ANSWER_SECONDS = Histogram(
    "case_classifier_answer_seconds",
    "Seconds from a request's arrival in the transformer to its answer",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: The children of ``CASES`` and ``PREDICTED_LABELS`` met so far, by their label values. Both are
#: bounded: statuses and languages are fixed sets, labels and versions are the model's.
_case_children: dict[tuple[str, str], Any] = {}
_label_children: dict[tuple[str, str], Any] = {}


def count_answers(statuses: Sequence[str], languages: Sequence[str], labels: Sequence[str], version: str) -> None:
    """Count a request's answered cases by status and language, and its predicted labels; each
    series is looked up once per process, not once per case (``labels()`` takes a lock)."""
    for status, language, label in zip(statuses, languages, labels, strict=True):
        key = (status, language)
        child = _case_children.get(key)
        if child is None:
            child = _case_children[key] = CASES.labels(status, language)
        child.inc()
        if label:
            key = (label, version)
            child = _label_children.get(key)
            if child is None:
                child = _label_children[key] = PREDICTED_LABELS.labels(label, version)
            child.inc()
