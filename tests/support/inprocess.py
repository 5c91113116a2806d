"""In-process harnesses for the fast tests: the services' apps and gRPC servicer without a process.

The stack tests (``tests/conftest.py::stack``) start four processes; these helpers give the same
objects a test can call directly, so each behaviour also has a test that runs in milliseconds:

- :func:`small_artifact`: a real model trained by the real training code on a small generated
  data set, written and signed like a release artifact (about a second, once per test process).
- :func:`build_app`: the FastAPI app a service serves, assembled from the same pieces
  ``case_serving.serve.serve`` puts on KServe's app (our routes, middlewares and error handlers,
  then KServe's own endpoints and handlers), on a fresh app for each model.
- :func:`grpc_server`: our gRPC servicer behind KServe's interceptors, on a loopback port the
  test binds itself (port 0: the kernel picks it, the server keeps it).
- :class:`ScriptedPredictor` and :class:`ScriptedLanguages`: test doubles of the two remote
  services the transformer calls, recording what they were sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse
from grpc import aio
from kserve import Model
from kserve.model_repository import ModelRepository
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from kserve.protocol.infer_type import InferRequest, InferResponse

from case_feedback.events import PredictionEvent
from case_feedback.prediction_log import LogConfig, PredictionLog
from case_model.training.demo_data import generate_cases
from case_serving import rest_app, schema
from case_serving.grpc_infer import CaseInferenceServicer, GrpcServer
from case_serving.infer_front import InferFront
from case_serving.kserve_adapter import leave_out_unread_timings
from case_serving.limits import RequestLimits
from case_serving.readiness import ReadinessGate
from case_serving.repository import SealedRepositoryExtension
from case_serving.settings import DEFAULT_MAX_BODY_BYTES
from case_serving.tensors import bytes_output, fp32_output, named_inputs, top_k_outputs, wants_explanation
from tests.conftest import SIGNING_KEY
from transformer.model import CaseTransformer
from transformer.settings import TransformerSettings

#: The version the small artifact is written as (and the scripted predictor answers with).
VERSION = "1.0.0"
_ARTIFACTS: dict[str, Path] = {}


def _frame(n: int, seed: int, prefix: str) -> pd.DataFrame:
    cases = generate_cases(n, seed=seed, prefix=prefix)
    return pd.DataFrame(
        {"case_id": [c.case_id for c in cases], "text": [c.text for c in cases], "label": [c.label for c in cases]}
    )


def small_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signed artifact of a model the real training code fits on 600 generated cases.

    Small enough to train in about a second, large enough that plain cases get their category
    (the session's ``artifact_dir`` trains on 3,000 cases with noisy labels: several seconds).
    Trained once per test process, whichever module asks first.
    """
    if "small" not in _ARTIFACTS:
        from case_model.training import train
        from case_model.training.wheelbuild import write_artifact

        result = train(_frame(600, 7, "T"), _frame(150, 8, "V"), None, seed=0)
        directory = tmp_path_factory.mktemp("small-artifact")
        write_artifact(result, VERSION, directory, {"synthetic_data": True}, SIGNING_KEY)
        _ARTIFACTS["small"] = directory
    return _ARTIFACTS["small"]


def build_app(
    model: Model,
    limits: RequestLimits,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Callable[[], bool] = lambda: True,
) -> InferFront:
    """The REST application ``case_serving.serve.serve`` would serve for ``model``, built in-process:
    the lean infer route in front of the FastAPI app, as Uvicorn serves it.

    ``serve`` prepares KServe's module-level app and lets KServe's ``RESTServer`` add its
    endpoints when the server starts; here the same steps run on a fresh app (KServe's own
    constructor arguments), so two models can be served by one test process. ``ready`` stands for
    the warm-up and the drain (``ReadinessGate``).
    """
    from kserve import model_server
    from kserve.protocol.rest.server import RESTServer

    app = FastAPI(title="KServe ModelServer", docs_url=None, redoc_url=None, default_response_class=ORJSONResponse)
    leave_out_unread_timings(app)
    rest_app.prepare(app, model, limits, max_body_bytes, lambda: model.version, lambda: getattr(model, "labels", None))
    app.add_middleware(ReadinessGate, ready=ready)
    repository = ModelRepository()
    repository.update(model)
    server = RESTServer("kserve.model_server:app", DataPlane(repository), SealedRepositoryExtension(repository), 0)
    # RESTServer.create_application finishes the app it imports from ``kserve.model_server:app``.
    shared = model_server.app
    model_server.app = app
    try:
        server.create_application()
    finally:
        model_server.app = shared
    return InferFront(app, model, limits, max_body_bytes)


@asynccontextmanager
async def grpc_server(
    model: Model, limits: RequestLimits, gate: aio.ServerInterceptor | None = None
) -> AsyncIterator[str]:
    """Our gRPC servicer for ``model``, set up as ``GrpcServer`` sets it up (with ``gate``, the
    token check, when given), on 127.0.0.1:0; yields the address it got. (``GrpcServer.start``
    binds the flag's port and keeps no port of its own.)"""
    repository = ModelRepository()
    repository.update(model)
    servicer = CaseInferenceServicer(
        DataPlane(repository), SealedRepositoryExtension(repository), model, limits, lambda: model.version
    )
    settings = GrpcServer(0, servicer, (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES), grace_period=0, gate=gate)
    server = aio.server(
        interceptors=settings.interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_receive),
            ("grpc.max_send_message_length", settings.max_send),
        ],
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


#: Words the scripted predictor recognises, and the category it answers for them.
KEYWORDS = {
    "battery": "battery_power",
    "fan": "thermal_fan",
    "bios": "boot_bios",
    "screen": "display",
    "printer": "docking_peripherals",
}
#: A text containing this word is answered with a confidence under every threshold used in tests.
UNSURE = "maybe"


class ScriptedPredictor:
    """Test double of the remote predictor (the transformer's V2 hop): answers each text with the
    category of the first keyword it holds (``KEYWORDS``; ``hardware_failure`` otherwise),
    confidence 0.9 (0.2 for a text holding ``UNSURE``), and records every request it was sent.

    Like KServe's REST client, which drops ``model_version`` when it parses an answer, it carries
    the version in the response's parameters only. ``failure`` makes every call raise it instead.
    """

    def __init__(self, version: str | None = VERSION) -> None:
        self.version = version
        self.requests: list[tuple[list[str], bool]] = []
        self.failure: Exception | None = None
        self.short_by = 0

    @staticmethod
    def label_of(text: str) -> str:
        """The category this double answers for ``text``."""
        lowered = text.lower()
        return next((label for word, label in KEYWORDS.items() if word in lowered), "hardware_failure")

    def answer(self, request: InferRequest) -> InferResponse:
        """The predictor's V2 answer to ``request`` (or ``failure``)."""
        limits = RequestLimits(schema.names(schema.PREDICTOR_INPUTS), 1024, schema.names(schema.PREDICTOR_OUTPUTS))
        texts = named_inputs(request, limits)[schema.TEXT]
        explain = wants_explanation(request)
        self.requests.append((texts, explain))
        if self.failure is not None:
            raise self.failure
        texts = texts[: len(texts) - self.short_by]
        labels = [self.label_of(text) for text in texts]
        confidences = [0.2 if UNSURE in text.lower() else 0.9 for text in texts]
        others = [[other for other in ("display", "storage", "os_drivers") if other != label][:2] for label in labels]
        outputs = [
            bytes_output(schema.LABEL, labels),
            fp32_output(schema.CONFIDENCE, confidences),  # type: ignore[arg-type]
            *top_k_outputs(
                schema.TOP_LABELS,
                schema.TOP_PROBABILITIES,
                [[label, *rest] for label, rest in zip(labels, others, strict=True)],
                [[c, (1 - c) / 2, (1 - c) / 2] for c in confidences],  # type: ignore[arg-type]
            ),
        ]
        if explain:
            outputs.append(bytes_output(schema.EXPLANATION, [json.dumps([[t.split()[0], 1.0]]) for t in texts]))
        return InferResponse(
            response_id=request.id or "",
            model_name=request.model_name,
            infer_outputs=outputs,
            parameters={schema.MODEL_VERSION_PARAMETER: self.version} if self.version else None,
        )


class _PredictorHop(Model):
    """Stands where KServe's ``Model.predict`` (the HTTP/gRPC call to the predictor) stands in the
    transformer's class hierarchy, and hands the request to a :class:`ScriptedPredictor`."""

    predictor: ScriptedPredictor

    async def predict(
        self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> InferResponse:
        return self.predictor.answer(payload)


class TransformerWithDoubles(CaseTransformer, _PredictorHop):
    """The real ``CaseTransformer``; its ``super().predict`` (the predictor hop) reaches
    :class:`_PredictorHop`, so every line of the transformer runs except the network call."""


class ScriptedLanguages:
    """Test double of the language service's client: for each text, the language of the first
    marker of ``languages`` (marker -> language) it contains, ``en`` for any other text; records
    the batches it was asked about."""

    def __init__(self, languages: dict[str, str] | None = None) -> None:
        self.languages = languages or {}
        self.calls: list[list[str]] = []

    async def detect(self, texts: Sequence[str]) -> list[str]:
        """Languages of ``texts``, in order."""
        self.calls.append(list(texts))
        return [next((lang for marker, lang in self.languages.items() if marker in t), "en") for t in texts]


class RecordingLog(PredictionLog):
    """Test double of the prediction log: keeps the events it was given, sends nothing."""

    def __init__(self) -> None:
        super().__init__(LogConfig("http://127.0.0.1:9/unused"))
        self.events: list[PredictionEvent] = []

    def record(self, events: Any) -> None:
        """Keep ``events``."""
        self.events.extend(events)


def transformer(
    languages: dict[str, str] | None = None,
    steps_version: str | None = VERSION,
    predictor_version: str | None = VERSION,
    **settings: Any,
) -> tuple[TransformerWithDoubles, ScriptedPredictor, ScriptedLanguages, RecordingLog]:
    """A transformer named ``case-classifier`` with its doubles (predictor, languages, log)."""
    predictor, detection, log = ScriptedPredictor(predictor_version), ScriptedLanguages(languages), RecordingLog()
    model = TransformerWithDoubles(
        "case-classifier", TransformerSettings(**settings), detection, steps_version, prediction_log=log
    )
    model.predictor = predictor
    return model, predictor, detection, log


__all__ = [
    "KEYWORDS",
    "UNSURE",
    "VERSION",
    "RecordingLog",
    "ScriptedLanguages",
    "ScriptedPredictor",
    "TransformerWithDoubles",
    "build_app",
    "grpc_server",
    "small_artifact",
    "transformer",
]
