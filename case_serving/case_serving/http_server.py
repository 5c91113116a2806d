"""Serving a plain ASGI application (not a KServe model) the way our KServe services are served:
on Uvicorn, with a drain on SIGTERM (readiness false, serving on for ``drain_seconds``, then
Uvicorn's own graceful stop), and the request log only when asked for."""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from case_serving.readiness import Drain
from case_serving.settings import HttpServiceSettings

log = logging.getLogger("case_serving")


class DrainingServer(uvicorn.Server):
    """Uvicorn's server whose exit signal first turns readiness false for ``drain.seconds``."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: not ready at once; Uvicorn's graceful shutdown after the drain.

        Unlike Uvicorn's own handler this does not raise the signal again once stopped: a drained
        stop is a clean one and exits 0, like the KServe services.
        """
        if self.drain.draining or self.drain.seconds <= 0:
            self.drain.draining = True
            self._stop(sig)
            return
        self.drain.draining = True
        log.info("SIGTERM: readiness false; serving on, then stopping", extra={"drain_seconds": self.drain.seconds})
        asyncio.get_running_loop().call_later(self.drain.seconds, self._stop, sig)

    def _stop(self, sig: int) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for in-flight requests
        else:
            self.should_exit = True


def serve_app(app: ASGIApp, host: str, port: int, settings: HttpServiceSettings, drain: Drain) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM/SIGINT, then drain and stop gracefully."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        access_log=settings.access_log,
        log_config=None,  # our JSON logs (case_serving.logs) are configured already
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
    )
    DrainingServer(config, drain).run()
