"""The feedback service's Prometheus metrics: the quality figures per model version, and counters.

The quality gauges are the ``GET /v1/quality`` figures, computed from the store when Prometheus
scrapes, at most once per ``cache_seconds`` (several Prometheus replicas scraping every few
seconds would otherwise each run the confusion query). When the store does not answer, the gauges
are left out of that scrape rather than reported stale, and ``..._store_up`` says 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError

from case_feedback.service.store import Logged, Quality, Store

log = logging.getLogger("case_feedback")
PREFIX = "case_classifier_feedback"


class QualityCache:
    """:meth:`Store.quality` computed at most once per ``cache_seconds``: ``GET /v1/quality`` and
    every Prometheus scrape read it, and each computation is a query over the whole table."""

    def __init__(self, store: Store, cache_seconds: float) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cached: list[Quality] = []
        self._at = float("-inf")
        self._lock = threading.Lock()

    def figures(self) -> list[Quality]:
        """The figures of every version, at most ``cache_seconds`` old.

        Raises:
            DBAPIError: the store does not answer (nothing stale is served for it).
        """
        with self._lock:  # callers in the thread pool wait for one query, not run one each
            now = time.monotonic()
            if now - self._at >= self.cache_seconds:
                self._cached = self.store.quality()
                self._at = now
            return self._cached


class QualityCollector(Collector):
    """Gauges drawn from the quality figures at scrape time (cached)."""

    def __init__(self, cache: QualityCache) -> None:
        self.cache = cache

    def _figures(self) -> list[Quality] | None:
        try:
            return self.cache.figures()
        except DBAPIError as error:
            log.warning("quality metrics skipped: the store does not answer", extra={"error": type(error).__name__})
            return None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per model version (and per predicted/corrected pair for the confusion)."""
        figures = self._figures()
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when the store answered the last quality query.")
        up.add_metric([], 0.0 if figures is None else 1.0)
        yield up
        if figures is None:
            return
        logged = GaugeMetricFamily(f"{PREFIX}_predictions", "Predictions logged.", labels=["model_version"])
        reviewed = GaugeMetricFamily(
            f"{PREFIX}_reviewed", "Classified cases an agent gave a label.", labels=["model_version"]
        )
        corrected = GaugeMetricFamily(
            f"{PREFIX}_corrected", "Reviewed cases whose label the agent changed.", labels=["model_version"]
        )
        agreement = GaugeMetricFamily(
            f"{PREFIX}_agreement_ratio", "Share of reviewed cases whose label was kept.", labels=["model_version"]
        )
        confusion = GaugeMetricFamily(
            f"{PREFIX}_confusion",
            "Reviewed cases by predicted and corrected label.",
            labels=["model_version", "predicted", "corrected"],
        )
        for quality in figures:
            version = quality.model_version
            logged.add_metric([version], quality.predictions)
            reviewed.add_metric([version], quality.reviewed)
            corrected.add_metric([version], quality.corrected)
            if quality.agreement_rate is not None:
                agreement.add_metric([version], quality.agreement_rate)
            for (predicted, label), count in sorted(quality.confusion.items()):
                confusion.add_metric([version, predicted, label], count)
        yield from (logged, reviewed, corrected, agreement, confusion)


class FeedbackMetrics:
    """Everything the feedback service exposes on ``/metrics``, in its own registry."""

    def __init__(self, quality: QualityCache, registry: CollectorRegistry) -> None:
        registry.register(QualityCollector(quality))
        self._corrections = Counter(
            f"{PREFIX}_corrections",
            "Corrections accepted, by whether the store had a prediction for the case.",
            ["case"],
            registry=registry,
        )
        self._events = Counter(
            f"{PREFIX}_prediction_events",
            "Prediction events received, by outcome: stored, duplicate (a retry or a rerun: its event "
            "id was stored), erased (refused: the case was erased).",
            ["outcome"],
            registry=registry,
        )
        self._limited = Counter(
            f"{PREFIX}_corrections_limited",
            "Correction requests refused by a daily limit, by limit (agent, all).",
            ["limit"],
            registry=registry,
        )

    def corrections(self, accepted: int, never_predicted: int) -> None:
        """Count a request's accepted corrections."""
        self._corrections.labels(case="known").inc(accepted - never_predicted)
        self._corrections.labels(case="unknown").inc(never_predicted)

    def logged(self, logged: Logged) -> None:
        """Count a request's prediction events by what became of them."""
        self._events.labels("stored").inc(logged.stored)
        self._events.labels("duplicate").inc(logged.duplicates)
        self._events.labels("erased").inc(logged.erased)

    def limited(self, limit: str) -> None:
        """Count a corrections request refused by the daily limit ``limit``."""
        self._limited.labels(limit).inc()
