"""The predictor's start-up (``python -m predictor``, after the model's signature check): flags and wiring only.

Takes KServe's standard flags (``--http_port``, ``--grpc_port``, ``--model_name``, ...) and ours
(``--model-dir``, ``--max-batch-cases``, ...; see ``predictor/settings.py``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from case_model import ArtifactError, read_metadata
from case_serving import logs
from case_serving.kserve_adapter import KSERVE_DEFAULT_MODEL_NAME
from case_serving.serve import serve
from case_serving.settings import load_settings
from case_signing import ProvenanceError
from predictor.settings import PredictorSettings

log = logging.getLogger("predictor")


def main(argv: list[str] | None = None) -> int:
    """Build the model, load it (verified) and serve it; exit 3 if the artifact is refused."""
    from kserve import model_server

    from predictor.model import CaseClassifierModel

    parser = argparse.ArgumentParser(prog="predictor", parents=[model_server.parser])
    settings, args = load_settings(PredictorSettings, parser, argv)
    logs.configure("predictor", settings.log_level, access_log=settings.access_log)
    try:
        metadata = read_metadata(Path(settings.model_dir) if settings.model_dir else None)
        name = args.model_name if args.model_name != KSERVE_DEFAULT_MODEL_NAME else metadata["model_name"]
        model = CaseClassifierModel(name, settings)
        model.load()
    except (ArtifactError, ProvenanceError) as error:
        log.error("model refused; the predictor will not become ready", extra={"reason": str(error)})
        return 3
    serve(model, model.request_limits, args, settings, labels=lambda: model.labels)
    return 0
