"""The predictor's own Prometheus figures (KServe's request metrics are beside them on /metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge

#: Each label's share of the training data, per model version: the baseline the predicted-label
#: drift alert compares the served labels with (manifests/base/monitoring/alerts.yaml).
TRAINING_LABEL_SHARE = Gauge(
    "case_classifier_training_label_share",
    "Share of each label in the model's training data",
    ["label", "model_version"],
)


def record_training_shares(label_counts: Mapping[str, int], model_version: str) -> None:
    """Publish the training distribution of the model just loaded."""
    total = sum(label_counts.values())
    for label, count in label_counts.items():
        TRAINING_LABEL_SHARE.labels(label, model_version).set(count / total if total else 0.0)
