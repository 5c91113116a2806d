"""Everything that reaches past KServe's public API, in one place, for the version named below.

Written against KServe 0.21.0 (``KSERVE_VERSION``); ``tests/case_serving/test_kserve_adapter.py``
fails loudly when the installed version or the behaviour relied on here changes. What is used,
and why no public path does it:

- **The event loop.** KServe hands ``--event_loop`` to Uvicorn only, which does not make the loop
  when KServe runs it inside its own ``asyncio.run``: the services ran on the pure-Python loop,
  whose socket writes alone took 12% of the transformer's CPU under load (profiled).
  :func:`use_event_loop` installs uvloop's policy before KServe starts.
- **SIGTERM.** KServe leaves SIGTERM to Uvicorn, which installs its handler when its server
  starts and re-raises the signal to KServe's own handler once it has stopped. To drain first
  (readiness false, serving on for ``drain_seconds``), Uvicorn's handler is wrapped once it is in
  place, rather than replaced.
- **Extra tasks in KServe's loop.** ``ModelServer.servers`` (the awaitables KServe gathers) takes
  our gRPC server and the warm-up, since ``start`` runs the loop and does not return.
- **gRPC.** KServe's ``GRPCServer`` builds its servicer itself; ours checks requests before
  decoding them (:mod:`case_serving.grpc_infer`), so KServe's gRPC server is switched off and ours
  is stopped from ``stop``, which KServe calls when Uvicorn re-raises the signal.
- **The request lifecycle.** ``case_serving.lifecycle`` replaces ``Model.__call__`` for predict
  calls (KServe's stage histograms from ``kserve.metrics``, bound once); it is kept beside this
  module because both models inherit it.
- **The application Uvicorn serves.** KServe hands Uvicorn the import string of its app; the
  lean infer route (:mod:`case_serving.infer_front`) has to be in front of that app, so the
  server's Uvicorn configuration is given our application once KServe has made it.
- **Timing middleware.** KServe adds ``TimingMiddleware`` to every app; its only output is
  ``kserve.trace`` lines, silenced below DEBUG, yet measuring CPU time twice per request cost 5%
  of the transformer's CPU under load (py-spy). It is left out while nobody reads it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, cast

import uvicorn
from fastapi import FastAPI
from kserve import ModelServer
from starlette.types import ASGIApp
from timing_asgi import TimingMiddleware

from case_serving.grpc_infer import GrpcServer
from case_serving.readiness import Drain

KSERVE_VERSION = "0.21.0"
#: KServe's default for ``--model_name``: a service started without the flag serves ``MODEL_NAME``.
KSERVE_DEFAULT_MODEL_NAME = "model"
log = logging.getLogger("case_serving")
#: How long to wait for Uvicorn to install its SIGTERM handler before giving up on the drain.
_HANDLER_WAIT_SECONDS = 5.0


def use_event_loop(choice: str) -> None:
    """Honour KServe's ``--event_loop`` (auto, asyncio, uvloop) for the loop KServe itself runs."""
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


def leave_out_unread_timings(app: FastAPI) -> None:
    """Keep KServe from adding ``TimingMiddleware`` to ``app`` while ``kserve.trace`` is silent."""
    add = app.add_middleware

    def add_middleware(middleware: Any, *args: Any, **kwargs: Any) -> None:
        if middleware is TimingMiddleware and not logging.getLogger("kserve.trace").isEnabledFor(logging.INFO):
            return
        add(middleware, *args, **kwargs)

    app.add_middleware = add_middleware  # type: ignore[method-assign,assignment]


class CaseModelServer(ModelServer):
    """KServe's ``ModelServer`` with our gRPC server, a drain on SIGTERM and tasks of our own.

    Args:
        drain: Shared with the readiness gate; set when SIGTERM arrives.
        grpc: Our gRPC server, or None to serve REST only.
        tasks: Coroutines to run in the server's loop beside the servers (the warm-up).
        on_stop: What to close once the servers have stopped (the model's outbound clients).
        on_drained: What to finish once the drain period after SIGTERM is over, while the servers
            still answer (the prediction log: its last flush and its count of what it dropped
            must reach ``/metrics`` before ``/metrics`` stops).
        rest_app: The ASGI application Uvicorn serves, wrapping KServe's app (None: KServe's app).
        kwargs: KServe's ``ModelServer`` arguments (gRPC is ours, so ``enable_grpc`` is not one).
    """

    def __init__(
        self,
        drain: Drain,
        grpc: GrpcServer | None,
        tasks: list[Callable[[], Awaitable[None]]],
        on_stop: list[Callable[[], Awaitable[None]]],
        on_drained: list[Callable[[], Awaitable[None]]] | None = None,
        rest_app: ASGIApp | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(enable_grpc=False, **kwargs)
        self.rest_app = rest_app
        self.drain = drain
        self.grpc = grpc
        self.tasks = tasks
        self.on_stop = on_stop
        self.on_drained = on_drained or []
        self._stopping: asyncio.Event | None = None
        self._finishing: asyncio.Task[None] | None = None

    def start(self, models: list[Any]) -> None:
        """Serve ``models`` over REST (KServe's server) and gRPC (ours) until stopped."""
        self.servers.append(self._drain_on_sigterm())
        self.servers.append(self._close_when_stopped())
        self.servers.extend(task() for task in self.tasks)
        if self.grpc is not None:
            self.servers.append(self.grpc.start())
        super().start(models)

    async def _serve(self) -> None:
        """KServe's servers, with Uvicorn serving ``rest_app`` (KServe has made its server by now)."""
        if self.rest_app is not None and self._rest_server is not None:
            self._rest_server.config.app = self.rest_app
        await super()._serve()

    def stop(self, sig: int) -> None:
        """KServe's stop (called once Uvicorn has stopped and re-raised the signal), then ours."""
        super().stop(sig)
        if self.grpc is not None:
            asyncio.get_running_loop().create_task(self.grpc.stop())
        if self._stopping is not None:
            self._stopping.set()

    async def _close_when_stopped(self) -> None:
        """Close what the service opened, inside the loop, before it ends (KServe waits for this)."""
        self._stopping = asyncio.Event()
        await self._stopping.wait()
        for close in self.on_stop:
            await close()

    async def _drain_on_sigterm(self) -> None:
        """Wrap Uvicorn's SIGTERM handler: readiness false at once, Uvicorn's shutdown after the drain."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _HANDLER_WAIT_SECONDS
        handler = signal.getsignal(signal.SIGTERM)
        while not isinstance(getattr(handler, "__self__", None), uvicorn.Server):
            if loop.time() > deadline:
                log.warning("Uvicorn's SIGTERM handler not found; SIGTERM stops without a drain period")
                return
            await asyncio.sleep(0.01)
            handler = signal.getsignal(signal.SIGTERM)
        uvicorn_handler = cast(Callable[[int, FrameType | None], object], handler)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.drain.draining:
                return
            self.drain.draining = True
            log.info("SIGTERM: readiness false; serving on, then stopping", extra={"drain_seconds": self.drain.seconds})

            async def drain_then_stop() -> None:
                await asyncio.sleep(self.drain.seconds)
                for finish in self.on_drained:
                    try:
                        await finish()
                    except Exception:  # a closer's failure must not keep the server from stopping
                        log.exception("finishing after the drain failed")
                uvicorn_handler(signum, frame)

            def start() -> None:  # the loop keeps only a weak reference to a task: this one is held
                self._finishing = loop.create_task(drain_then_stop())

            loop.call_soon_threadsafe(start)

        signal.signal(signal.SIGTERM, on_sigterm)
