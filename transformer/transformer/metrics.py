"""The transformer's own Prometheus metrics, served with KServe's on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CASES = Counter("case_classifier_cases", "Cases answered, by status and language", ["status", "language"])
PREDICTED_LABELS = Counter(
    "case_classifier_predicted_labels", "Predicted labels (watch for drift)", ["label", "model_version"]
)
PREDICTOR_CALLS = Counter("case_classifier_predictor_calls", "Calls to the predictor by outcome", ["outcome"])
MODEL_INFO = Gauge("case_classifier_model_info", "The model version served (value 1)", ["model_version"])
