"""Serve one KServe model the way both services do: our REST pieces, a drain on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc

from kserve import Model, model_server

from contract import rest_app
from contract.grpc_infer import CaseInferenceServicer, GrpcServer
from contract.limits import RequestLimits
from contract.repository import SealedRepositoryExtension
from lifecycle.settings import ServingSettings
from lifecycle.shutdown import Drain, DrainingModelServer, ReadinessGate
from lifecycle.warmup import Warmup


def _use_event_loop(choice: str) -> None:
    """Honour KServe's ``--event_loop`` (auto, asyncio, uvloop) for the loop KServe itself runs.

    KServe 0.21 hands the flag to Uvicorn only, which does not make the loop when KServe runs it
    inside its own ``asyncio.run``: the services ran on the pure-Python loop, whose socket writes
    alone took 12% of the transformer's CPU under load (profiled). "auto" means uvloop when
    installed, as it does for Uvicorn.
    """
    if choice not in ("auto", "uvloop"):
        return
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # KServe asks for the current loop (to configure it) before its asyncio.run makes another.
    asyncio.set_event_loop(asyncio.new_event_loop())


def serve(model: Model, limits: RequestLimits, args: argparse.Namespace, settings: ServingSettings) -> None:
    """Serve ``model`` (already loaded) over V2 REST and gRPC until SIGTERM/SIGINT.

    Args:
        model: The loaded model.
        limits: The shape limits of its requests, checked before they are decoded.
        args: KServe's parsed flags (ports, workers, gRPC, latency logging).
        settings: Body limit, drain period, shutdown grace and warm-up of the service.
    """
    drain = Drain(settings.drain_seconds)
    warmup = Warmup(f"/v2/models/{model.name}/infer", rounds=settings.warmup_requests)
    rest_app.prepare(model_server.app, model, limits, settings.max_body_bytes)
    model_server.app.add_middleware(ReadinessGate, drain=drain, warmup=warmup)
    # What exists now lives as long as the process (the model: millions of objects); a full
    # collection would scan it all (~50 ms, measured), a pause inside some request's latency.
    gc.collect()
    gc.freeze()
    _use_event_loop(args.event_loop)
    server = DrainingModelServer(
        drain,
        warmup,
        None,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        enable_latency_logging=args.enable_latency_logging,
        grace_period=int(settings.shutdown_timeout),
    )
    server.model_repository_extension = SealedRepositoryExtension(server.registered_models)
    if args.enable_grpc:
        servicer = CaseInferenceServicer(server.dataplane, server.model_repository_extension, model, limits)
        message_bytes = (args.grpc_max_receive_message_length, args.grpc_max_send_message_length)
        server.grpc = GrpcServer(
            args.grpc_port, servicer, message_bytes, settings.shutdown_timeout, settings.access_log
        )
    server.start([model])
