"""SIGTERM while requests are in flight: readiness goes false first, every accepted request is
answered (no 5xx), new connections are refused, and the process exits 0.

The stream plays the cluster's part: requests keep coming after SIGTERM for most of the drain
period (endpoints take a while to drop a pod that reports not-ready), then stop. Requests in
flight at that moment (batches of 64 cases among them) must all be answered. A client that kept
connecting through the moment the listener closes could lose a connection the kernel accepted
but the server never read; that race is TCP's, and the drain period is what keeps traffic out
of it.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dev.stack import MODEL_NAME, Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.support.auth import bearer
from tests.support.stream import SteadyStream, readiness_until_refused
from tests.support.v2 import infer_body

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("outage")]
DRAIN = 1.5
SERVICE_NAMES = {
    "predictor": "predictor",
    "transformer": "transformer",
    "language": "language service",
    "feedback": "feedback service",
}
TEXTS = ["The battery of my laptop does not charge any more.", "The screen flickers after the update."]


def _infer_body(n: int) -> dict:
    # Every fourth request is a batch of 64 cases, so some requests are long when SIGTERM lands.
    size = 64 if n % 4 == 0 else 1
    return infer_body([TEXTS[n % 2]] * size, request_id=f"drain-{n}")


def _detect_body(n: int) -> dict:
    return {"texts": [TEXTS[n % 2]] * (64 if n % 4 == 0 else 1)}


def _corrections_body(n: int) -> dict:
    corrections = [
        {"case_id": f"drain-{n}-{i}", "label": "display", "agent_id": "a-1"} for i in range(1 + 63 * (n % 4 == 0))
    ]
    return {"corrections": corrections}


@pytest.mark.parametrize("service", ["predictor", "transformer", "language", "feedback"])
def test_sigterm_drains_then_stops_losing_nothing(artifact_dir, tmp_path, service, reliability):
    drain = ("--drain-seconds", str(DRAIN))
    stack = Stack(
        # The service under test alone: --language-mode local calls no language service, and the
        # prediction log's feedback service stays unanswered (port 1) beside the transformer.
        ports=Ports.any(**{name: 1 for name in ("language", "feedback") if name != service}),
        model_dir=str(artifact_dir),
        feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}",
        env={**SOURCE_ENV, "FEEDBACK_LABELS": "display,storage"},
        language_args=drain if service == "language" else (),
        # One agent's hundreds of corrections a second: past its daily limit, which is not under test.
        feedback_args=(*drain, "--corrections-per-agent-per-day=0") if service == "feedback" else (),
        predictor_args=drain if service == "predictor" else (),
        transformer_args=("--language-mode", "local", *drain),
    )
    # The transformer's infer route and the feedback service's corrections take a CRM's token; the
    # predictor and the language service have no in-app auth.
    headers = bearer("crm") if service in ("transformer", "feedback") else {}
    if service == "language":
        predictor = transformer = None
        stack, target = start_service(stack, "language", tmp_path)
        base = stack.url(stack.ports.language)
        url, ready_url, body = f"{base}/v1/detect", f"{base}/readyz", _detect_body
    elif service == "feedback":
        predictor = transformer = None
        stack, target = start_service(stack, "feedback", tmp_path)
        base = stack.url(stack.ports.feedback)
        url, ready_url, body = f"{base}/v1/corrections", f"{base}/readyz", _corrections_body
    else:
        stack, predictor = start_service(stack, "predictor", tmp_path)
        transformer = None
        if service == "transformer":
            stack, transformer = start_service(stack, "transformer", tmp_path)
        target = transformer or predictor
        base = stack.url(stack.ports.http if service == "transformer" else stack.ports.predictor_http)
        url, ready_url, body = (
            f"{base}/v2/models/{MODEL_NAME}/infer",
            f"{base}/v2/models/{MODEL_NAME}/ready",
            _infer_body,
        )
    try:
        with SteadyStream(url, body, workers=6, headers=headers) as stream:
            time.sleep(1.0)
            sigterm_at = stream.mark()
            target.signal(signal.SIGTERM)
            # Readiness is watched from the signal on, beside the stream: on a loaded machine the
            # stream's last requests may end after the drain period.
            with ThreadPoolExecutor(1) as watcher:
                watched = watcher.submit(readiness_until_refused, ready_url, sigterm_at + 15)
                time.sleep(DRAIN * 0.6)
                assert stream.first_refused is None, "new connections refused during the drain period"
                stream.stop()  # traffic has moved away; in-flight requests finish
                readiness = watched.result()
            assert target.process.wait(30) == 0, target.log_tail()
        refused_at = time.monotonic()
        with pytest.raises(httpx.ConnectError):
            httpx.get(ready_url, timeout=2)
        outcomes = dict(stream.outcomes)
        assert not [o for o in outcomes if o.startswith("lost")], outcomes
        assert set(outcomes) <= {"200", "refused"}, outcomes  # no 5xx, no 503 for accepted requests
        assert outcomes.get("200", 0) > 20, outcomes
        assert stream.answered_after.get("200", 0) > 0, "nothing was served during the drain"
        assert "503" in readiness, readiness  # not-ready first ...
        assert readiness[-1] == "refused", readiness  # ... then new connections refused
        assert refused_at - sigterm_at >= DRAIN
        reliability.record(
            "Graceful shutdown",
            f"SIGTERM to the {SERVICE_NAMES[service]} under a steady stream",
            sum(outcomes.values()),
            f"{outcomes.get('200', 0)} answered 200, 0 lost, 0 5xx; not-ready first, then connections refused",
        )
    finally:
        for process in (transformer, predictor, target):
            if process is not None:
                process.stop()
