"""The transformer's start-up (``python -m transformer``, after the model's signature check): flags and wiring.

KServe's flags (``--http_port``, ``--grpc_port``, ``--predictor_host``, ``--predictor_protocol``,
...) plus ours (see ``transformer/settings.py``).
"""

from __future__ import annotations

import argparse
import logging

from case_feedback.prediction_log import PredictionLog
from case_language.client import build_detection
from case_model import MODEL_NAME, ArtifactError, read_metadata
from case_serving import logs
from case_serving.kserve_adapter import KSERVE_DEFAULT_MODEL_NAME
from case_serving.serve import Access, serve
from case_serving.settings import load_settings
from transformer import metrics
from transformer.settings import TransformerSettings

log = logging.getLogger("transformer")


def installed_model() -> tuple[str | None, tuple[str, ...] | None]:
    """The version and labels of the installed case-model wheel's model (None, None from a
    source tree: the version is then learnt from the predictor's answers, the labels not at all)."""
    try:
        metadata = read_metadata()
    except ArtifactError:
        return None, None
    return str(metadata["model_version"]), tuple(str(label) for label in metadata["labels"])


def main(argv: list[str] | None = None) -> int:
    """Wire the transformer and serve it."""
    from kserve import model_server

    from transformer.model import CaseTransformer

    parser = argparse.ArgumentParser(prog="transformer", parents=[model_server.parser])
    settings, args = load_settings(TransformerSettings, parser, argv)
    logs.configure("transformer", settings.log_level, access_log=settings.access_log)
    if not args.predictor_host:
        parser.error("--predictor_host is required (host:port of the predictor)")
    language, client = build_detection(settings.language_mode, settings.language_client(), settings.detector_languages)
    version, labels = installed_model()
    if version:
        metrics.MODEL_INFO.labels(version).set(1)
    name = args.model_name if args.model_name != KSERVE_DEFAULT_MODEL_NAME else MODEL_NAME
    log_config = settings.prediction_log()
    prediction_log = PredictionLog(log_config) if log_config else None
    model = CaseTransformer(name, settings, language, version, prediction_log)
    log.info(
        "starting",
        extra={
            "predictor_host": args.predictor_host,
            "predictor_protocol": args.predictor_protocol,
            "language_mode": settings.language_mode,
            "supported_languages": list(settings.supported_languages),
            "prediction_log": bool(prediction_log),
            "auth": settings.auth,
        },
    )
    closers = [model.close, *(closer.close for closer in (client, prediction_log) if closer is not None)]
    # The log's last flush, and its count of what it dropped, run before /metrics stops.
    finishers = [prediction_log.flush] if prediction_log is not None else []
    access = Access(settings.gate(), frozenset(settings.classify_roles))
    if not access.gate.enabled:
        log.warning("authentication is OFF: any caller may classify (a test bench only)")
    serve(
        model,
        model.request_limits,
        args,
        settings,
        on_stop=closers,
        access=access,
        on_drained=finishers,
        labels=lambda: labels,
    )
    return 0
