"""The language-service client's Prometheus metrics (served on the transformer's ``/metrics``).

The names keep the ``case_classifier_`` prefix: dashboards and alerts read them as the service's.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LANGUAGE_CALLS = Counter(
    "case_classifier_language_calls", "Language-service calls by outcome", ["outcome"]
)  # outcome: ok, error, timeout, invalid, skipped_open_breaker
# From the start at 0, so the first failures show as an increase (alerts read the rate).
for _outcome in ("ok", "error", "timeout", "invalid", "skipped_open_breaker"):
    LANGUAGE_CALLS.labels(_outcome)
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
