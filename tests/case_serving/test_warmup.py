"""Readiness waits for warm-up: a service reports not-ready (503) until its own warm-up requests
have gone through every layer, and ready once they have; liveness answers throughout."""

from __future__ import annotations

import dataclasses
import time

import httpx
import pytest

from case_model import MODEL_NAME
from dev.processes import candidate_ports, start
from dev.stack import Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.support.v2 import metric

pytestmark = pytest.mark.slow


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def test_transformer_is_not_ready_until_its_warm_up_reached_the_predictor(artifact_dir, tmp_path, reliability):
    """The transformer starts before its predictor: its warm-up cannot complete, so readiness
    says 503 while liveness says 200; once the predictor is up, warm-up completes and readiness
    turns 200, and the predictor has served those warm-up requests."""
    # The predictor starts after the transformer, which must already know its ports: two candidates
    # below the kernel's ephemeral range (nothing takes those implicitly in between). The
    # transformer's own ports are chosen at its start, again on a bind failure.
    predictor_http, predictor_grpc = candidate_ports(2)
    stack = Stack(
        # --language-mode local: no language service is called (port 1 unanswered).
        ports=Ports.any(language=1, predictor_http=predictor_http, predictor_grpc=predictor_grpc),
        model_dir=str(artifact_dir),
        env=SOURCE_ENV,
        transformer_args=("--language-mode", "local", "--warmup-timeout-seconds", "120"),
        # The predictor's own warm-up off: every predict call it counts is then the transformer's.
        # (Counting from the moment the predictor was up raced with the transformer's warm-up,
        # which may already be through by then.)
        predictor_args=("--warmup-requests", "0"),
    )
    # Started once alive: it cannot be ready before its predictor is.
    stack, transformer = start_service(
        stack,
        "transformer",
        tmp_path,
        lambda service: dataclasses.replace(
            service, ready_url=service.ready_url.replace(f"/v2/models/{MODEL_NAME}/ready", "/v2/health/live")
        ),
    )
    base = stack.url(stack.ports.http)
    predictor = None
    try:
        seen = {_status(f"{base}/v2/models/{MODEL_NAME}/ready") for _ in range(5)}
        assert seen == {503}, seen  # listening, alive, not ready: warm-up is waiting for the predictor
        predictor = start(stack.predictor(), tmp_path)
        deadline = time.monotonic() + 30
        while _status(f"{base}/v2/models/{MODEL_NAME}/ready") != 200:
            assert time.monotonic() < deadline, transformer.log_tail()
            time.sleep(0.1)
        assert metric(stack.url(stack.ports.predictor_http), "request_predict_seconds_count") > 0
    finally:
        transformer.stop()
        if predictor is not None:
            predictor.stop()
    reliability.record(
        "Graceful shutdown",
        "transformer started before its predictor",
        1,
        "alive but not ready (503) until its warm-up went through the predictor; then ready",
    )
