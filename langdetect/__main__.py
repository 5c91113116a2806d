"""``python -m langdetect``: flags and wiring only; the container's entrypoint too."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import tornado.httpserver

from case_model import LocalDetector
from langdetect.app import ServiceState, make_app
from langdetect.settings import LangdetectSettings
from observability import logs
from serviceconfig import load_settings

log = logging.getLogger("langdetect")


async def serve(settings: LangdetectSettings) -> None:
    """Serve until SIGTERM/SIGINT, then drain: not ready, stop accepting, finish in-flight calls."""
    state = ServiceState(settings, LocalDetector(settings.languages, settings.min_confidence, settings.max_text_chars))
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
    state.ready = False
    log.info("shutting down", extra={"in_flight": state.in_flight})
    await asyncio.sleep(settings.drain_seconds)
    server.stop()
    deadline = loop.time() + settings.shutdown_timeout
    while state.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await server.close_all_connections()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="langdetect", description="Reference language-detection service.")
    settings, _ = load_settings(LangdetectSettings, parser, argv)
    logs.configure("langdetect", settings.log_level)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
