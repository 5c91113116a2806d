"""Health stays responsive whatever is in flight: the worst request a client can send within the
limits (the maximum batch of maximum-length hostile texts) runs, and meanwhile liveness and
readiness answer within the probes' one-second timeout and other cases keep being classified.

The worst family is chosen by measuring every family of ``tests/support/adversarial.py`` in this
run. The one-second bound is Kubernetes' default probe timeout (the manifests keep it): a probe
slower than that counts as failed, and failed liveness probes restart the pod.
"""

from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest

from case_model import prepare
from case_serving.settings import DEFAULT_MAX_BODY_BYTES
from dev.adversarial import FAMILIES
from tests.support.auth import bearer
from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
PROBE_TIMEOUT = 1.0  # seconds: Kubernetes' default timeoutSeconds for probes
RAW_CHARS = 32_000  # the most of a raw case the text steps read
GOOD = "The battery of my laptop does not charge any more."
PROBES = ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready")


def _worst_family() -> tuple[str, str]:
    """The family whose 32k-character text costs the text steps most (ASCII, so a full batch fits)."""
    costs = {}
    for name, build in FAMILIES.items():
        text = build(RAW_CHARS)
        if not text.isascii():
            continue
        started = time.perf_counter()
        prepare(text)
        costs[name] = time.perf_counter() - started
    worst = max(costs, key=costs.get)
    return worst, FAMILIES[worst](RAW_CHARS)


def _watch(base: str, done: threading.Event) -> tuple[list[float], list[float]]:
    """Probe health and classify a good case repeatedly until ``done``; the seconds each took."""
    probes, answers = [], []
    with httpx.Client(base_url=base, timeout=10) as client:
        while not done.is_set():
            for path in PROBES:
                started = time.perf_counter()
                assert client.get(path).status_code == 200, path
                probes.append(time.perf_counter() - started)
            started = time.perf_counter()
            # A case may wait behind the worst request (the predictor scores one batch at a time);
            # only health is bound, answers are recorded.
            assert outputs(infer(base, infer_body([GOOD]), timeout=300))["label"]
            answers.append(time.perf_counter() - started)
            time.sleep(0.1)
    return probes, answers


@pytest.mark.parametrize(("service", "cases"), [("transformer", 256), ("predictor", 1024)])
def test_health_answers_while_the_worst_request_is_in_flight(stack, service, cases, reliability):
    family, text = _worst_family()
    if service == "predictor":  # the predictor takes cleaned texts, cut to 4,000 characters
        text = text[:4000]
    body = orjson.dumps(infer_body([text] * cases))
    assert len(body) <= DEFAULT_MAX_BODY_BYTES  # within the limits
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    done, result = threading.Event(), {}

    def send_worst() -> None:
        started = time.perf_counter()
        response = httpx.post(
            f"{base}/v2/models/{MODEL}/infer",
            content=body,
            headers={"content-type": "application/json", **bearer()},
            timeout=600,
        )
        result.update(status=response.status_code, seconds=time.perf_counter() - started)
        done.set()

    worst = threading.Thread(target=send_worst)
    worst.start()
    time.sleep(0.3)  # the body is on its way
    probes, answers = _watch(base, done)
    worst.join()
    assert result["status"] == 200
    assert len(probes) >= 3, "the worst request ended before health was probed: it was not slow enough to test"
    assert max(probes) < PROBE_TIMEOUT, f"slowest probe {max(probes):.2f} s"
    reliability.record(
        "Odd texts",
        f"worst request within the limits ({cases} x {len(text) // 1000}k chars of {family!r}) to the {service}",
        1,
        f"answered in {result['seconds']:.1f} s; meanwhile {len(probes)} health probes (slowest "
        f"{max(probes) * 1000:.0f} ms) and {len(answers)} other cases answered (slowest {max(answers) * 1000:.0f} ms)",
    )
