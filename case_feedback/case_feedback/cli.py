"""The feedback service's start-up (``python -m case_feedback``, ``case-feedback``; after the model's
signature check). Flags and wiring only."""

from __future__ import annotations

import argparse
import logging

from case_feedback.service.api import create_app
from case_feedback.service.settings import FeedbackSettings
from case_feedback.service.store import Store
from case_serving import logs
from case_serving.http_server import serve_app
from case_serving.readiness import Drain
from case_serving.settings import load_settings

log = logging.getLogger("case_feedback")


def known_labels(settings: FeedbackSettings) -> tuple[str, ...]:
    """The labels a correction may name: the setting, else the installed model wheel's labels
    (read from its metadata; no model file is read)."""
    if settings.labels:
        return settings.labels
    from case_model.artifact import read_metadata

    return tuple(read_metadata()["labels"])


def main(argv: list[str] | None = None) -> int:
    """Entry point: settings, schema migration, then serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="case-feedback", description="The feedback service.")
    settings, _ = load_settings(FeedbackSettings, parser, argv)
    logs.configure("case_feedback", settings.log_level, access_log=settings.access_log)
    labels = known_labels(settings)
    store = Store(settings.store_location())
    if settings.migrate:
        store.migrate()
    drain = Drain(settings.drain_seconds)
    where = {
        "host": settings.host,
        "port": settings.port,
        "store": store.dialect,
        "labels": len(labels),
        "auth": settings.auth,
    }
    if not settings.auth:
        log.warning("authentication is OFF: any caller may read and change cases (a test bench only)")
    log.info("starting", extra=where)
    try:
        serve_app(create_app(store, labels, settings, drain), settings.host, settings.port, settings, drain)
    finally:
        store.close()
    return 0
