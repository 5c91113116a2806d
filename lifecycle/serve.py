"""Serve one KServe model the way both services do: our REST pieces, a drain on SIGTERM."""

from __future__ import annotations

import argparse
import gc

from kserve import Model, model_server

from contract import rest_app
from lifecycle.shutdown import Drain, DrainingModelServer, ReadinessGate


def serve(model: Model, args: argparse.Namespace, max_body_bytes: int, drain_seconds: float, grace: float) -> None:
    """Serve ``model`` (already loaded) on KServe's REST and gRPC servers until SIGTERM/SIGINT.

    Args:
        model: The loaded model.
        args: KServe's parsed flags (ports, workers, gRPC, latency logging).
        max_body_bytes: Largest REST body accepted (413 above).
        drain_seconds: After SIGTERM, how long readiness reports false while serving goes on.
        grace: Longest wait for in-flight requests once the servers stop.
    """
    drain = Drain(drain_seconds)
    rest_app.prepare(model_server.app, model, max_body_bytes)
    model_server.app.add_middleware(ReadinessGate, drain=drain)
    # What exists now lives as long as the process (the model: millions of objects); a full
    # collection would scan it all (~50 ms, measured), a pause inside some request's latency.
    gc.collect()
    gc.freeze()
    server = DrainingModelServer(
        drain,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        enable_grpc=args.enable_grpc,
        enable_latency_logging=args.enable_latency_logging,
        grace_period=int(grace),
    )
    server.start([model])
