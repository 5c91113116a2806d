"""The services with the flags their containers use, on loopback ports.

One definition for ``make run``, the tests and the benchmarks, so all of them run what the pods run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from case_feedback.events import PREDICTIONS_PATH
from case_model import MODEL_NAME
from dev.processes import LOOPBACK, Service, free_port, python_module


@dataclass(frozen=True)
class Ports:
    """Every port of the stack; the transformer's are the ones the CRM calls."""

    http: int = 8080
    grpc: int = 8081
    langdetect: int = 8082
    feedback: int = 8083
    predictor_http: int = 8085
    predictor_grpc: int = 8086

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        """Defaults overridden by HTTP_PORT, GRPC_PORT, LANGDETECT_PORT, FEEDBACK_PORT,
        PREDICTOR_HTTP_PORT, PREDICTOR_GRPC_PORT."""
        names = {
            "http": "HTTP_PORT",
            "grpc": "GRPC_PORT",
            "langdetect": "LANGDETECT_PORT",
            "feedback": "FEEDBACK_PORT",
            "predictor_http": "PREDICTOR_HTTP_PORT",
            "predictor_grpc": "PREDICTOR_GRPC_PORT",
        }
        return cls(**{key: int(env[var]) for key, var in names.items() if env.get(var)})

    @classmethod
    def free(cls) -> Ports:
        """Ports nothing listens on (tests, benchmarks)."""
        return cls(free_port(), free_port(), free_port(), free_port(), free_port(), free_port())


@dataclass(frozen=True)
class Stack:
    """How to run the stack: ports, the predictor protocol of the hop, and extra flags/env per service.

    ``feedback_store`` is the feedback service's store URL; without one, the stack runs without
    the feedback service and the transformer logs no predictions.
    """

    ports: Ports = field(default_factory=Ports)
    feedback_store: str | None = None
    predictor_protocol: str = "grpc-v2"
    model_dir: str | None = None
    langdetect_args: Sequence[str] = ()
    feedback_args: Sequence[str] = ()
    predictor_args: Sequence[str] = ()
    transformer_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def url(self, port: int, path: str = "") -> str:
        """``http://127.0.0.1:port/path``."""
        return f"http://{LOOPBACK}:{port}{path}"

    def langdetect(self) -> Service:
        """The language-detection service."""
        argv = python_module(
            "case_language", "--host", LOOPBACK, "--port", str(self.ports.langdetect), *self.langdetect_args
        )
        return Service("langdetect", argv, self.url(self.ports.langdetect, "/readyz"), self.env)

    def feedback(self) -> Service:
        """The feedback service (prediction log, corrections, quality)."""
        argv = python_module(
            "case_feedback",
            "--host",
            LOOPBACK,
            "--port",
            str(self.ports.feedback),
            "--store_url",
            self.feedback_store or "",
            *self.feedback_args,
        )
        return Service("feedback", argv, self.url(self.ports.feedback, "/readyz"), self.env)

    def predictor(self) -> Service:
        """The predictor (KServe ModelServer)."""
        model_dir = ("--model_dir", self.model_dir) if self.model_dir else ()
        argv = python_module(
            "predictor",
            "--http_port",
            str(self.ports.predictor_http),
            "--grpc_port",
            str(self.ports.predictor_grpc),
            *model_dir,
            *self.predictor_args,
        )
        ready = self.url(self.ports.predictor_http, f"/v2/models/{MODEL_NAME}/ready")
        return Service("predictor", argv, ready, self.env)

    def transformer(self) -> Service:
        """The transformer, pointed at the predictor and the language service."""
        predictor_port = (
            self.ports.predictor_grpc if self.predictor_protocol == "grpc-v2" else self.ports.predictor_http
        )
        argv = python_module(
            "transformer",
            "--http_port",
            str(self.ports.http),
            "--grpc_port",
            str(self.ports.grpc),
            "--predictor_host",
            f"{LOOPBACK}:{predictor_port}",
            "--predictor_protocol",
            self.predictor_protocol,
            "--language_url",
            self.url(self.ports.langdetect, "/v1/detect"),
            "--feedback_url",
            self.url(self.ports.feedback, PREDICTIONS_PATH) if self.feedback_store else "",
            *self.transformer_args,
        )
        return Service("transformer", argv, self.url(self.ports.http, f"/v2/models/{MODEL_NAME}/ready"), self.env)

    def services(self) -> list[Service]:
        """In start order: language service, feedback service (when it has a store), predictor,
        transformer."""
        feedback = [self.feedback()] if self.feedback_store else []
        return [self.langdetect(), *feedback, self.predictor(), self.transformer()]
