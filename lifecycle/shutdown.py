"""SIGTERM for a KServe ``ModelServer``: readiness false first, then stop accepting, then finish.

Kubernetes sends SIGTERM and, at the same time, starts taking the pod out of its Services; for a
while new requests still arrive. So on SIGTERM the service first reports not-ready (the V2
readiness endpoints answer 503) while it keeps serving for ``drain_seconds``; then Uvicorn stops
accepting connections and waits for every in-flight request (up to ``shutdown_timeout``), and
KServe stops the gRPC server with the same grace. Under Knative the queue-proxy drains before the
container gets SIGTERM, so ``drain_seconds`` can stay 0 there (the default).

KServe 0.21 leaves SIGTERM to Uvicorn, which installs its handler when its server starts; we wrap
that handler once it is in place rather than replace Uvicorn's shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

import orjson
import uvicorn
from kserve import ModelServer
from starlette.types import ASGIApp, Receive, Scope, Send

from contract.grpc_infer import GrpcServer
from lifecycle.warmup import Warmup

log = logging.getLogger("lifecycle")
_NOT_READY = orjson.dumps({"error": "not ready: warming up or shutting down"})


class Drain:
    """Whether the service is draining; shared by the signal handler and the readiness gate."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False


def _is_readiness(path: str) -> bool:
    return path == "/v2/health/ready" or (path.startswith("/v2/models/") and path.endswith("/ready"))


class ReadinessGate:
    """ASGI middleware: while warming up or draining, readiness endpoints answer 503; everything
    else is served."""

    def __init__(self, app: ASGIApp, drain: Drain, warmup: Warmup) -> None:
        self.app = app
        self.drain = drain
        self.warmup = warmup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        not_ready = self.drain.draining or not self.warmup.done
        if scope["type"] == "http" and not_ready and _is_readiness(scope["path"]):
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_NOT_READY)).encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": _NOT_READY})
            return
        await self.app(scope, receive, send)


class DrainingModelServer(ModelServer):
    """KServe's ``ModelServer`` that warms up before readiness, whose SIGTERM drains first, and
    whose gRPC server is ours (``contract.grpc_infer``: requests checked before they are decoded).
    """

    def __init__(self, drain: Drain, warmup: Warmup, grpc: GrpcServer | None, **kwargs) -> None:
        super().__init__(enable_grpc=False, **kwargs)
        self.drain = drain
        self.warmup = warmup
        self.grpc = grpc

    def start(self, models: list) -> None:
        """Serve ``models`` over REST (KServe's server) and gRPC (ours) until stopped."""
        if self.grpc is not None:
            self.servers.append(self.grpc.start())
        super().start(models)

    def stop(self, sig: int) -> None:
        """KServe's stop (run once Uvicorn has drained and re-raised the signal), and our gRPC server's."""
        super().stop(sig)
        if self.grpc is not None:
            asyncio.get_running_loop().create_task(self.grpc.stop())

    def _listening(self) -> bool:
        rest = self._rest_server
        return rest is not None and rest._server.started

    async def _serve(self) -> None:
        tasks = [
            asyncio.create_task(self._wrap_uvicorn_sigterm()),
            asyncio.create_task(self.warmup.run(self.http_port, self._listening)),
        ]
        try:
            await super()._serve()
        finally:
            for task in tasks:
                task.cancel()

    async def _wrap_uvicorn_sigterm(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(500):
            handler = signal.getsignal(signal.SIGTERM)
            if isinstance(getattr(handler, "__self__", None), uvicorn.Server):
                break
            await asyncio.sleep(0.01)
        else:
            log.warning("Uvicorn's SIGTERM handler not found; SIGTERM stops without a drain period")
            return

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.drain.draining:
                return
            self.drain.draining = True
            log.info("SIGTERM: readiness false; serving on, then stopping", extra={"drain_seconds": self.drain.seconds})
            loop.call_soon_threadsafe(loop.call_later, self.drain.seconds, handler, signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
