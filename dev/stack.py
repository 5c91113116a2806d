"""The services with the flags their containers use, on loopback ports.

One definition for ``make run``, the tests and the benchmarks, so all of them run what the pods run.

A port of 0 in :class:`Ports` means "any port": :func:`start_service` and :func:`launch` start the
service on candidate ports, again on others if one was taken meanwhile, and return the stack with
the ports the services really hold; the transformer starts last, pointed at those. ``make run``
gives every port, and a taken one is an error there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from case_feedback.events import PREDICTIONS_PATH
from case_model import MODEL_NAME
from case_serving.model_labels import LABELS_PATH
from case_serving.settings import warn_renamed
from dev.processes import LOOPBACK, RunningService, Service, python_module, start, start_on_ports
from dev.tokens import JWKS, KEYS

DEV_JWKS = KEYS / JWKS

#: The ports each service binds, by the name of its :class:`Stack` method.
SERVICE_PORTS: dict[str, tuple[str, ...]] = {
    "predictor": ("predictor_http", "predictor_grpc"),
    "language": ("language",),
    "feedback": ("feedback",),
    "transformer": ("http", "grpc"),
}
#: The order :func:`launch` starts services in: the transformer needs the others' real ports.
START_ORDER = ("predictor", "language", "feedback", "transformer")
#: Port variables still read under a former name until the next release, below the new name and
#: with a warning (the language service's variables are ``LANGUAGE_*``, its former ones ``LANGDETECT_*``).
FORMER_PORT_NAMES = {"LANGDETECT_PORT": "language"}


@dataclass(frozen=True)
class Ports:
    """Every port of the stack; the transformer's are the ones the CRM calls."""

    http: int = 8080
    grpc: int = 8081
    language: int = 8082
    feedback: int = 8083
    predictor_http: int = 8085
    predictor_grpc: int = 8086

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        """Defaults overridden by HTTP_PORT, GRPC_PORT, LANGUAGE_PORT, FEEDBACK_PORT,
        PREDICTOR_HTTP_PORT, PREDICTOR_GRPC_PORT, or where one is unset by its former name
        (:data:`FORMER_PORT_NAMES`), with a warning."""
        names = {
            "http": "HTTP_PORT",
            "grpc": "GRPC_PORT",
            "language": "LANGUAGE_PORT",
            "feedback": "FEEDBACK_PORT",
            "predictor_http": "PREDICTOR_HTTP_PORT",
            "predictor_grpc": "PREDICTOR_GRPC_PORT",
        }
        ports = {key: int(env[var]) for key, var in names.items() if env.get(var)}
        for former, key in FORMER_PORT_NAMES.items():
            if env.get(former):
                warn_renamed(former, names[key], new_is_set=key in ports)
                ports.setdefault(key, int(env[former]))
        return cls(**ports)

    @classmethod
    def any(cls, **given: int) -> Ports:
        """Every port 0 ("any": chosen when its service starts) but those ``given`` (a service
        started elsewhere, e.g. a shared language service)."""
        return cls(**{**{port.name: 0 for port in dataclasses.fields(cls)}, **given})


#: The predictor hop of the cluster's transformer (``--predictor_protocol`` in
#: ``manifests/base/model/inferenceservice.yaml``): ``make run`` and the bench's chains use it too.
DEPLOYED_HOP = "v2"


@dataclass(frozen=True)
class Stack:
    """How to run the stack: ports, the predictor protocol of the hop, and extra flags/env per service.

    ``feedback_store`` is the feedback service's store URL; without one, the stack runs without
    the feedback service and the transformer logs no predictions.
    """

    ports: Ports = field(default_factory=Ports)
    feedback_store: str | None = None
    #: The hop to the predictor: ``grpc-v2`` (KServe's gRPC client), or ``v2``
    #: (:data:`DEPLOYED_HOP`, REST as on the cluster: ``transformer.predictor_hop``).
    predictor_protocol: str = "grpc-v2"
    model_dir: str | None = None
    language_args: Sequence[str] = ()
    feedback_args: Sequence[str] = ()
    predictor_args: Sequence[str] = ()
    transformer_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: The JWKS the transformer and the feedback service trust (the development issuer's).
    jwks: str = str(DEV_JWKS)
    #: The token the transformer's prediction log presents (role service); empty: none.
    service_token_file: str = ""

    def url(self, port: int, path: str = "") -> str:
        """``http://127.0.0.1:port/path``."""
        return f"http://{LOOPBACK}:{port}{path}"

    def language(self) -> Service:
        """The language-detection service."""
        argv = python_module(
            "case_language", "--host", LOOPBACK, "--port", str(self.ports.language), *self.language_args
        )
        return Service("language", argv, self.url(self.ports.language, "/readyz"), self.env)

    def feedback(self) -> Service:
        """The feedback service (prediction log, corrections, quality)."""
        argv = python_module(
            "case_feedback",
            "--host",
            LOOPBACK,
            "--port",
            str(self.ports.feedback),
            "--store-url",
            self.feedback_store or "",
            "--auth-jwks-url",
            self.jwks,
            *self._served_models(),
            *self.feedback_args,
        )
        return Service("feedback", argv, self.url(self.ports.feedback, "/readyz"), self.env)

    def _served_models(self) -> tuple[str, ...]:
        """The feedback service reads the version and labels the predictor serves (on the cluster:
        each slot's transformer); a feedback service started without a predictor takes fixed ones."""
        if not self.ports.predictor_http:
            return ()
        return ("--served-models", self.url(self.ports.predictor_http, LABELS_PATH.format(name=MODEL_NAME)))

    def predictor(self) -> Service:
        """The predictor (KServe ModelServer)."""
        model_dir = ("--model-dir", self.model_dir) if self.model_dir else ()
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
            "--language-url",
            self.url(self.ports.language, "/v1/detect"),
            "--feedback-url",
            self.url(self.ports.feedback, PREDICTIONS_PATH) if self.feedback_store else "",
            "--feedback-token-file",
            self.service_token_file,
            "--auth-jwks-url",
            self.jwks,
            *self.transformer_args,
        )
        return Service("transformer", argv, self.url(self.ports.http, f"/v2/models/{MODEL_NAME}/ready"), self.env)

    def services(self) -> list[Service]:
        """In start order: language service, feedback service (when it has a store), predictor,
        transformer."""
        feedback = [self.feedback()] if self.feedback_store else []
        return [self.language(), *feedback, self.predictor(), self.transformer()]


@dataclass
class LaunchedStack:
    """Services of a stack started by :func:`launch`; ``stack`` holds the ports they really hold."""

    stack: Stack
    processes: dict[str, RunningService]

    def stop(self) -> None:
        """Stop the services, the last started first."""
        for process in reversed(list(self.processes.values())):
            process.stop()


def _same(service: Service) -> Service:
    return service


def start_service(
    stack: Stack, name: str, log_dir: Path, adjust: Callable[[Service], Service] = _same
) -> tuple[Stack, RunningService]:
    """Start the service ``name`` (a :class:`Stack` method) of ``stack`` and wait until it is ready.

    Its ports of 0 are chosen at start, on new ones again when one was taken meanwhile (the
    others' ports are used as given, without a retry: ``make run`` wants its own).

    Args:
        adjust: Changes the service before it starts (another name, environment).

    Returns:
        ``stack`` with the ports the service holds, and the running service.
    """
    names = SERVICE_PORTS[name]
    if name == "transformer":
        needed = [
            "predictor_grpc" if stack.predictor_protocol == "grpc-v2" else "predictor_http",
            "language",
            *(["feedback"] if stack.feedback_store else []),
        ]
        unknown = [port for port in needed if not getattr(stack.ports, port)]
        if unknown:
            raise ValueError(f"start the services of {', '.join(unknown)} before the transformer: it calls them")
    chosen = [port for port in names if not getattr(stack.ports, port)]

    def on(ports: Iterable[int]) -> Stack:
        return dataclasses.replace(
            stack, ports=dataclasses.replace(stack.ports, **dict(zip(chosen, ports, strict=True)))
        )

    def make(ports: tuple[int, ...]) -> Service:
        service: Service = getattr(on(ports), name)()
        return adjust(service)

    if not chosen:
        return stack, start(make(()), log_dir)
    running, ports = start_on_ports(make, len(chosen), log_dir)
    return on(ports), running


def launch(stack: Stack, log_dir: Path, names: Sequence[str] | None = None) -> LaunchedStack:
    """Start ``names`` (default: the whole stack; the feedback service only with a store) in
    dependency order, each waited for; stop those started if one fails.

    Returns:
        The running services by name, and the stack with the ports they really hold.
    """
    wanted = names if names is not None else [service.name for service in stack.services()]
    unknown = sorted(set(wanted) - set(START_ORDER))
    if unknown:
        raise ValueError(f"no service {', '.join(unknown)}; the services are {', '.join(START_ORDER)}")
    launched = LaunchedStack(stack, {})
    try:
        for name in START_ORDER:
            if name in wanted:
                launched.stack, launched.processes[name] = start_service(launched.stack, name, log_dir)
    except BaseException:
        launched.stop()
        raise
    return launched
