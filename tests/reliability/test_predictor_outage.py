"""The predictor dies mid-run: the transformer answers 503 with a V2 error, reports not-ready,
and recovers by itself when the predictor is back."""

from __future__ import annotations

import time

import httpx
import pytest

from dev.processes import start
from dev.stack import Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.support.v2 import infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("outage")]
CASE = "The battery of my laptop does not charge any more."


@pytest.mark.parametrize("protocol", ["grpc-v2", "v2"])
def test_predictor_killed_and_restarted(artifact_dir, tmp_path, protocol, reliability):
    stack = Stack(
        # No language service: --language-mode local never calls it (port 1 stays unanswered).
        ports=Ports.any(language=1),
        model_dir=str(artifact_dir),
        env=SOURCE_ENV,
        predictor_protocol=protocol,
        transformer_args=(
            "--language-mode",
            "local",
            "--enable_predictor_health_check",
            "--predictor_request_timeout_seconds",
            "5",
        ),
    )
    stack, predictor = start_service(stack, "predictor", tmp_path)
    stack, transformer = start_service(stack, "transformer", tmp_path)
    base = stack.url(stack.ports.http)
    try:
        assert outputs(infer(base, infer_body([CASE])))["label"] == ["battery_power"]
        predictor.stop()
        started = time.monotonic()
        response = infer(base, infer_body([CASE]))
        assert time.monotonic() - started < 10
        assert response.status_code == 503
        assert "predictor unavailable" in response.json()["error"]
        # The model-ready endpoint is the readiness signal (the manifests' probe); KServe 0.21's
        # server-level /v2/health/ready raises instead when the predictor is unreachable.
        assert httpx.get(f"{base}/v2/models/case-classifier/ready").status_code == 503
        # Filtered cases need no predictor: still answered.
        assert outputs(infer(base, infer_body([""])))["status"] == ["empty"]
        # Back on the ports it held, which the transformer calls: below the kernel's ephemeral
        # range (dev.processes.candidate_ports), nothing takes them implicitly in between.
        predictor = start(stack.predictor(), tmp_path)
        deadline = time.monotonic() + 20
        while infer(base, infer_body([CASE])).status_code != 200:
            assert time.monotonic() < deadline, "the transformer did not recover after the restart"
            time.sleep(0.2)
        assert httpx.get(f"{base}/v2/models/case-classifier/ready").status_code == 200
        reliability.record(
            "Predictor faults",
            f"predictor killed, then restarted ({'gRPC' if protocol == 'grpc-v2' else 'REST'} hop)",
            1,
            "503 with a V2 error, not-ready, empty cases still answered; recovers by itself",
        )
    finally:
        transformer.stop()
        predictor.stop()
