"""Serve one KServe model the way both services do: our REST pieces, a drain on SIGTERM."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kserve import Model, model_server
from kserve.model_repository import ModelRepository
from kserve.protocol.dataplane import DataPlane

from case_serving import rest_app
from case_serving.access import Gate
from case_serving.access_grpc import GateInterceptor
from case_serving.access_http import BearerGateMiddleware
from case_serving.grpc_infer import CaseInferenceServicer, GrpcServer
from case_serving.infer_front import InferFront
from case_serving.kserve_adapter import CaseModelServer, leave_out_unread_timings, use_event_loop
from case_serving.limits import RequestLimits
from case_serving.readiness import Drain, ReadinessGate
from case_serving.repository import SealedRepositoryExtension
from case_serving.settings import ModelServerSettings
from case_serving.warmup import Warmup


def _grpc_server(
    model: Model,
    limits: RequestLimits,
    repository: ModelRepository,
    args: argparse.Namespace,
    settings: ModelServerSettings,
    access: Access | None,
) -> GrpcServer:
    plane = DataPlane(model_registry=repository)
    servicer = CaseInferenceServicer(plane, SealedRepositoryExtension(repository), model, limits, lambda: model.version)
    message_bytes = (args.grpc_max_receive_message_length, args.grpc_max_send_message_length)
    gate = GateInterceptor(access.gate, access.roles) if access else None
    return GrpcServer(args.grpc_port, servicer, message_bytes, settings.shutdown_timeout, settings.access_log, gate)


@dataclass(frozen=True)
class Access:
    """Who may call the model's data routes: the gate, and the roles it lets through."""

    gate: Gate
    roles: frozenset[str]


def serve(
    model: Model,
    limits: RequestLimits,
    args: argparse.Namespace,
    settings: ModelServerSettings,
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    access: Access | None = None,
    on_drained: Sequence[Callable[[], Awaitable[None]]] = (),
    labels: Callable[[], Sequence[str] | None] = lambda: None,
) -> None:
    """Serve ``model`` (already loaded) over V2 REST and gRPC until SIGTERM/SIGINT.

    Args:
        model: The loaded model.
        limits: The shape limits of its requests, checked before they are decoded.
        args: KServe's parsed flags (ports, workers, gRPC, latency logging).
        settings: Body limit, drain period, shutdown grace and warm-up of the service.
        on_stop: Closers of what the service opened (outbound clients), run after the servers stop.
        on_drained: Run after SIGTERM's drain period, while the servers still answer.
        labels: The labels the served version answers with (``GET /v2/models/<name>/labels``).
        access: Tokens and roles every REST call but GET/HEAD and every gRPC call but health and
            metadata must present; None serves without (the predictor: only its transformers
            reach it, which the mesh enforces).
    """
    drain = Drain(settings.drain_seconds)
    warmup = Warmup(
        f"/v2/models/{model.name}/infer",
        rounds=settings.warmup_requests,
        timeout=settings.warmup_timeout_seconds,
        authorization=access.gate.internal_credential if access else None,
    )
    leave_out_unread_timings(model_server.app)
    rest_app.prepare(model_server.app, model, limits, settings.max_body_bytes, lambda: model.version, labels)
    repository = ModelRepository()
    grpc = _grpc_server(model, limits, repository, args, settings, access) if args.enable_grpc else None

    def ready() -> bool:
        return warmup.done and (grpc is None or grpc.serving) and not drain.draining

    model_server.app.add_middleware(ReadinessGate, ready=ready)
    if access:  # outermost: a caller without a token gets no further
        model_server.app.add_middleware(BearerGateMiddleware, gate=access.gate, roles=access.roles)
    # What exists now lives as long as the process (the model: millions of objects); a full
    # collection would scan it all (~50 ms, measured), a pause inside some request's latency.
    gc.collect()
    gc.freeze()
    front = InferFront(
        model_server.app, model, limits, settings.max_body_bytes, (access.gate, access.roles) if access else None
    )
    use_event_loop(args.event_loop)
    server = CaseModelServer(
        drain,
        grpc,
        [lambda: warmup.run(args.http_port)],
        list(on_stop),
        list(on_drained),
        rest_app=front,
        registered_models=repository,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        enable_latency_logging=args.enable_latency_logging,
        grace_period=int(settings.shutdown_timeout),
    )
    server.model_repository_extension = SealedRepositoryExtension(repository)
    server.start([model])
