"""Running the language service: serve until SIGTERM, then drain and stop."""

from __future__ import annotations

import asyncio
import logging
import signal

import tornado.httpserver

from case_language.service.app import ServiceState, make_app
from case_language.service.settings import LanguageServiceSettings
from case_model import LocalDetector
from case_serving.readiness import Drain

log = logging.getLogger("case_language")


async def serve(settings: LanguageServiceSettings) -> None:
    """Serve until SIGTERM/SIGINT, then drain: not ready, stop accepting, finish in-flight calls."""
    detector = LocalDetector(settings.languages, settings.min_confidence, settings.max_text_chars)
    state = ServiceState(settings, detector, drain=Drain(settings.drain_seconds))
    state.detector.detect("warm up the detector before the first call")
    server = tornado.httpserver.HTTPServer(make_app(state), max_body_size=settings.max_body_bytes * 2)
    server.listen(settings.port, settings.host)
    state.ready = True
    log.info("ready", extra={"host": settings.host, "port": settings.port, "languages": list(settings.languages)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    state.drain.draining = True
    log.info("shutting down", extra={"in_flight": state.in_flight})
    await asyncio.sleep(state.drain.seconds)
    server.stop()
    deadline = loop.time() + settings.shutdown_timeout
    while state.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await server.close_all_connections()
    log.info("stopped")
