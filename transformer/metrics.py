"""The transformer's own Prometheus metrics, served with KServe's on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CASES = Counter("case_classifier_cases", "Cases answered, by status and language", ["status", "language"])
PREDICTED_LABELS = Counter(
    "case_classifier_predicted_labels", "Predicted labels (watch for drift)", ["label", "model_version"]
)
LANGUAGE_CALLS = Counter(
    "case_classifier_language_calls", "Language-service calls by outcome", ["outcome"]
)  # outcome: ok, error, timeout, invalid, skipped_open_breaker
LANGUAGE_SECONDS = Histogram(
    "case_classifier_language_seconds",
    "Language-service call latency, retries included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LANGUAGE_FALLBACKS = Counter("case_classifier_language_fallbacks", "Texts answered by the fallback detector")
BREAKER_STATE = Gauge(
    "case_classifier_language_breaker_state", "Language-service circuit breaker: 0 closed, 1 open, 2 half-open"
)
BREAKER_TRANSITIONS = Counter(
    "case_classifier_language_breaker_transitions", "Breaker state changes, by new state", ["state"]
)
PREDICTOR_CALLS = Counter("case_classifier_predictor_calls", "Calls to the predictor by outcome", ["outcome"])
MODEL_INFO = Gauge("case_classifier_model_info", "The model version served (value 1)", ["model_version"])
