"""The transformer's own Prometheus metrics, served with KServe's on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CASES = Counter("case_classifier_cases", "Cases answered, by status and language", ["status", "language"])
PREDICTED_LABELS = Counter(
    "case_classifier_predicted_labels", "Predicted labels (watch for drift)", ["label", "model_version"]
)
PREDICTOR_CALLS = Counter("case_classifier_predictor_calls", "Calls to the predictor by outcome", ["outcome"])
#: Every outcome's series exists from the start at 0: a series first seen with its first failures
#: already counted shows no increase, so an alert on the rate would miss the first burst.
for _outcome in ("ok", "skipped", "unavailable", "error", "version_mismatch"):
    PREDICTOR_CALLS.labels(_outcome)
MODEL_INFO = Gauge("case_classifier_model_info", "The model version served (value 1)", ["model_version"])
#: From a request's arrival in the transformer to its answer, per request: the latency a canary is
#: judged by (``case-classifier rollout analyze`` compares its p99 with the stable version's).
ANSWER_SECONDS = Histogram(
    "case_classifier_answer_seconds",
    "Seconds from a request's arrival in the transformer to its answer",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
