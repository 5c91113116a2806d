"""Readiness as the platform sees it: false while warming up and from the moment a shutdown begins.

Kubernetes sends SIGTERM and, at the same time, starts taking the pod out of its Services; for a
while new requests still arrive. So on SIGTERM the service first reports not-ready (the V2
readiness endpoints answer 503) while it keeps serving for ``drain_seconds``; then it stops
accepting connections and finishes the requests in flight. Under Knative the queue-proxy drains
before the container gets SIGTERM, so ``drain_seconds`` can stay 0 there (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from case_serving.asgi_answers import send_error

if TYPE_CHECKING:  # annotations only: the language service (tornado, no Starlette) shares Drain
    from starlette.types import ASGIApp, Receive, Scope, Send

NOT_READY = "not ready: warming up or shutting down"


class Drain:
    """Whether the service is draining; shared by the signal handler and the readiness gate."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False


def is_v2_readiness(path: str) -> bool:
    """The V2 protocol's readiness endpoints (server and model)."""
    return path == "/v2/health/ready" or (path.startswith("/v2/models/") and path.endswith("/ready"))


class ReadinessGate:
    """ASGI middleware: while ``ready()`` is false, readiness endpoints answer 503; everything else
    is served (a draining service keeps answering the requests still sent to it).

    Args:
        app: The application.
        ready: Whether the service is ready now (warmed up, not draining).
        is_readiness: Which paths are readiness endpoints.
    """

    def __init__(
        self, app: ASGIApp, ready: Callable[[], bool], is_readiness: Callable[[str], bool] = is_v2_readiness
    ) -> None:
        self.app = app
        self.ready = ready
        self.is_readiness = is_readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.is_readiness(scope["path"]) and not self.ready():
            await send_error(send, 503, NOT_READY)
            return
        await self.app(scope, receive, send)
