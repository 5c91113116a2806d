"""HTTP handlers of the language-detection service.

``POST /v1/detect`` with ``{"texts": [...]}`` answers ``[{"language": "en", "confidence": 0.99}, ...]``
in the same order. Many texts per call is the point: the transformer sends one call per batch of
cases, not one per case. Texts without real words come back ``unknown`` (see
:func:`case_model.has_real_words`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import orjson
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from case_language.protocol import DETECT_PATH
from case_language.service.settings import LanguageServiceSettings
from case_model import LocalDetector
from case_serving.json_body import json_object
from case_serving.logs import REQUEST_ID_HEADER, new_request_id, request_id
from case_serving.readiness import Drain
from case_serving.refusals import Invalid, Refusal, TooLarge, too_large

log = logging.getLogger("case_language")
#: The service's own metrics. The transformer's calls to it are counted on the client's side as
#: ``case_classifier_language_*`` (:mod:`case_language.client_metrics`); ``_service`` keeps the two apart.
PREFIX = "case_classifier_language_service"


@dataclass
class ServiceState:
    """What the handlers share: settings, detector, readiness, in-flight count and metrics."""

    settings: LanguageServiceSettings
    detector: LocalDetector
    #: Warmed up (the drain, shared with the serve loop, says whether a shutdown has begun).
    ready: bool = False
    in_flight: int = 0
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    drain: Drain = field(default_factory=lambda: Drain(0.0))

    def __post_init__(self) -> None:
        self.requests = Counter(f"{PREFIX}_requests", "Detect calls by HTTP status", ["status"], registry=self.registry)
        self.texts = Counter(f"{PREFIX}_texts", "Texts detected, by language", ["language"], registry=self.registry)
        self.latency = Histogram(
            f"{PREFIX}_request_seconds",
            "Detect call latency",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )


class _JsonHandler(tornado.web.RequestHandler):
    def initialize(self, state: ServiceState) -> None:
        self.state = state

    def send_json(self, status: int, payload: object) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps(payload))

    def write_error(self, status_code: int, **kwargs: object) -> None:
        self.send_json(status_code, {"error": self._reason})


@tornado.web.stream_request_body
class DetectHandler(_JsonHandler):
    """``POST /v1/detect``: a batch of texts in, one detection per text out."""

    def prepare(self) -> None:
        self._started = time.perf_counter()
        self._chunks: list[bytes] = []
        self._size = 0
        request_id.set(self.request.headers.get(REQUEST_ID_HEADER) or new_request_id())
        self.state.in_flight += 1
        declared = int(self.request.headers.get("Content-Length") or 0)
        if declared > self.state.settings.max_body_bytes:
            self._fail(too_large(self.state.settings.max_body_bytes, declared))

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > self.state.settings.max_body_bytes:
            self._fail(too_large(self.state.settings.max_body_bytes, None))
            return
        self._chunks.append(chunk)

    def post(self) -> None:
        if self._finished:
            return
        try:
            texts = self._texts(b"".join(self._chunks))
        except Refusal as refusal:
            self._fail(refusal)
            return
        detections = self.state.detector.detect_many(texts)
        for detection in detections:
            self.state.texts.labels(detection.language).inc()
        self._respond(200, [{"language": d.language, "confidence": round(d.confidence, 4)} for d in detections])

    def on_finish(self) -> None:
        self.state.in_flight -= 1
        self.state.latency.observe(time.perf_counter() - self._started)

    def _texts(self, body: bytes) -> list[str]:
        """The texts of ``body``.

        Raises:
            Invalid: not ``{"texts": [string, ...]}``.
            TooLarge: more texts than ``max_texts``.
        """
        payload = json_object(body, expected='a JSON object {"texts": [string, ...]}')
        if not isinstance(payload.get("texts"), list):
            raise Invalid('invalid request: body must be a JSON object {"texts": [string, ...]}')
        texts: list[str] = payload["texts"]
        if len(texts) > self.state.settings.max_texts:
            raise TooLarge(f"too many texts: {len(texts)} > {self.state.settings.max_texts}")
        if not all(isinstance(text, str) for text in texts):
            raise Invalid("every element of texts must be a string")
        return texts

    def _fail(self, refusal: Refusal) -> None:
        """Answer ``refusal`` with its status and headers (the one way every service refuses)."""
        log.info("detect refused", extra={"status": refusal.status, "reason": str(refusal)})
        for name, value in refusal.headers.items():
            self.set_header(name, value)
        self._respond(refusal.status, {"error": str(refusal)})

    def _respond(self, status: int, payload: object) -> None:
        self.state.requests.labels(str(status)).inc()
        self.send_json(status, payload)


class LiveHandler(_JsonHandler):
    """``GET /healthz``: the process serves."""

    def get(self) -> None:
        self.send_json(200, {"live": True})


class ReadyHandler(_JsonHandler):
    """``GET /readyz``: ready for traffic; false from the moment a shutdown begins."""

    def get(self) -> None:
        ready = self.state.ready and not self.state.drain.draining
        self.send_json(200 if ready else 503, {"ready": ready})


class MetricsHandler(tornado.web.RequestHandler):
    """``GET /metrics``: Prometheus exposition."""

    def initialize(self, state: ServiceState) -> None:
        self.state = state

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self.state.registry))


def make_app(state: ServiceState) -> tornado.web.Application:
    """The tornado application with every route bound to ``state``."""
    routes = [
        (DETECT_PATH, DetectHandler),
        (r"/healthz", LiveHandler),
        (r"/readyz", ReadyHandler),
        (r"/metrics", MetricsHandler),
    ]
    return tornado.web.Application(
        [(path, handler, {"state": state}) for path, handler in routes],
        default_handler_class=_NotFound,
        default_handler_args={"state": state},
        log_function=_access_log if state.settings.access_log else _no_access_log,
    )


class _NotFound(_JsonHandler):
    def prepare(self) -> None:
        self.send_json(404, {"error": f"no route {self.request.method} {self.request.path}"})


def _no_access_log(handler: tornado.web.RequestHandler) -> None:
    """Tornado's default would log every request at INFO; per-request lines are opt-in."""


def _access_log(handler: tornado.web.RequestHandler) -> None:
    if handler.request.path in ("/healthz", "/readyz", "/metrics"):
        return
    log.info(
        "request",
        extra={
            "method": handler.request.method,
            "path": handler.request.path,
            "status": handler.get_status(),
            "ms": round(handler.request.request_time() * 1000, 2),
        },
    )
