"""The feedback service's start-up (``python -m case_feedback``, ``case-feedback``; after the model's
signature check). Flags and wiring only."""

from __future__ import annotations

import argparse
import logging

from case_feedback.service.api import create_app
from case_feedback.service.served_models import ServedModels
from case_feedback.service.settings import FeedbackSettings
from case_feedback.service.store import Store
from case_serving import logs
from case_serving.http_server import serve_app
from case_serving.readiness import Drain
from case_serving.settings import load_settings

log = logging.getLogger("case_feedback")


def served_models(settings: FeedbackSettings) -> ServedModels:
    """What corrections and prediction events are checked against: the served models, read from
    them; without any configured, the labels setting, else the installed model wheel's labels
    (read from its metadata; no model file is read)."""
    fixed = settings.labels
    if not settings.served_models and not fixed:
        from case_model import read_metadata

        fixed = tuple(read_metadata()["labels"])
    return ServedModels(
        settings.served_models,
        fixed,
        settings.served_models_refresh_seconds,
        settings.served_models_keep_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: settings, schema migration, then serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="case-feedback", description="The feedback service.")
    settings, _ = load_settings(FeedbackSettings, parser, argv)
    logs.configure("case_feedback", settings.log_level, access_log=settings.access_log)
    served = served_models(settings)
    store = Store(settings.store_location())
    if settings.migrate:
        store.migrate()
    drain = Drain(settings.drain_seconds)
    where = {
        "host": settings.host,
        "port": settings.port,
        "store": store.dialect,
        "served_models": list(settings.served_models),
        "auth": settings.auth,
    }
    if not settings.auth:
        log.warning("authentication is OFF: any caller may read and change cases (a test bench only)")
    log.info("starting", extra=where)
    try:
        serve_app(create_app(store, served, settings, drain), settings.host, settings.port, settings, drain)
    finally:
        store.close()
    return 0
