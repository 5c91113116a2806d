"""``rollout analyze`` against a real Prometheus (Debian's) scraping the local stack as "stable" and
two canaries beside it: one degraded (its answers mostly below the confidence floor) that must be
judged "rollback", one healthy that must be judged "promote" (and is promoted by
``promote --if-healthy``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from case_rollout import analysis, release
from dev.processes import LOOPBACK, refusing_port
from dev.stack import Ports, Stack, start_service
from tests.conftest import ROOT, SIGNING_KEY, SOURCE_ENV
from tests.support.auth import write_token
from tests.support.prometheus import running
from tests.support.v2 import infer, infer_body

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
TEXTS = [
    "My laptop battery does not charge any more since yesterday.",
    "The screen flickers and goes black when I open the lid.",
    "The printer does not pull paper and shows an error.",
    "My docking station does not detect the second monitor.",
    "The fan is very loud when I play games on the notebook.",
]


@pytest.fixture(scope="module")
def canaries(stack, trained, tmp_path_factory):
    """Two canary chains (predictor and transformer of another model version), sharing the
    stack's language service: 2.0.0 degraded by a confidence floor of 0.99, 3.0.0 healthy."""
    from case_model.training.wheelbuild import write_artifact

    running, urls = [], {}
    logs = tmp_path_factory.mktemp("canary-logs")
    try:
        for version, extra in (("2.0.0", ("--confidence-threshold", "0.99")), ("3.0.0", ())):
            artifact = tmp_path_factory.mktemp(f"artifact-{version}")
            write_artifact(trained, version, artifact, {}, SIGNING_KEY)
            ports = Ports.any(language=stack.stack.ports.language)
            chain = Stack(ports=ports, model_dir=str(artifact), transformer_args=extra, env=SOURCE_ENV)
            for name in ("predictor", "transformer"):  # the transformer to the ports the predictor got
                chain, process = start_service(
                    chain,
                    name,
                    logs,
                    lambda service, v=version: dataclasses.replace(service, name=f"{service.name}-{v}"),
                )
                running.append(process)
            urls[version] = chain.url(chain.ports.http)
        yield urls
    finally:
        for process in reversed(running):
            process.stop()


@pytest.fixture(scope="module")
def prometheus(stack, canaries, tmp_path_factory):
    """A real Prometheus scraping the three transformers every second; its URL."""
    targets = [url.removeprefix("http://") for url in (stack.transformer_url, *canaries.values())]
    with running(tmp_path_factory.mktemp("prometheus"), targets) as url:
        yield url


@pytest.fixture(scope="module")
def traffic(stack, canaries, prometheus):
    """The same 300 cases through each transformer, interleaved so that all three see the same
    machine; returns the stable version. A few cases first, scraped, so every series exists
    before the counted traffic (increase() cannot count what a series held when first seen)."""
    targets = [stack.transformer_url, *canaries.values()]
    answers = {}
    for rounds in (2, 60):
        for i in range(rounds):
            for url in targets:
                body = infer_body(TEXTS, [f"AN-{i}-{j}" for j in range(5)], request_id=f"analyze-{i}")
                answers[url] = infer(url, body)
        time.sleep(3)  # three scrapes
    return answers[stack.transformer_url].json()["model_version"]


@pytest.fixture(scope="module")
def reader_token(tmp_path_factory) -> str:
    """A token file of the feedback service's reader role: the analysis reads /v1/quality with it."""
    path = tmp_path_factory.mktemp("reader-token") / "token"
    write_token(path, ["reader"], "rollout-analyst", 3 * 3600)
    return str(path)


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "case_rollout", *argv], capture_output=True, text=True, cwd=ROOT)


def _digests(version: str) -> dict[str, str]:
    """Image digests for a version (the analysis reads Prometheus, never the images themselves)."""
    return {c: "sha256:" + hashlib.sha256(f"{c} {version}".encode()).hexdigest() for c in release.COMPONENTS}


def _overlay(tmp_path: Path, stable: str, canary: str) -> Path:
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    overlay = tmp_path / "manifests" / "overlays" / "prod"
    release.write(
        overlay, release.Release.first(stable, "reg.example", _digests(stable)).deploy(canary, 10, _digests(canary))
    )
    return overlay


def test_a_degraded_canary_is_judged_rollback(stack, prometheus, traffic, reader_token, tmp_path):
    overlay = _overlay(tmp_path, traffic, "2.0.0")
    args = ["--prometheus-url", prometheus, "--feedback-url", stack.feedback_url, "--overlay", str(overlay)]
    args += ["--feedback-token-file", reader_token]
    result = _cli("analyze", "--window", "5m", *args)
    verdict = json.loads(result.stdout)
    assert result.returncode == 4, result.stdout + result.stderr
    assert verdict["decision"] == "rollback"
    assert any("low-confidence share" in reason for reason in verdict["reasons"]), verdict
    assert verdict["canary"]["cases"] >= 300
    assert verdict["stable"]["cases"] >= 300
    assert verdict["canary"]["low_confidence_share"] > 0.5 > verdict["stable"]["low_confidence_share"]
    # promote --if-healthy refuses, and the release is untouched.
    refused = _cli("promote", "--if-healthy", "--window", "5m", *args)
    assert refused.returncode == 4
    assert "not promoting: the analysis says rollback" in refused.stderr
    assert release.read(overlay).canary == "2.0.0"


def test_a_healthy_canary_is_judged_promote_and_promoted_if_healthy(stack, prometheus, traffic, reader_token, tmp_path):
    overlay = _overlay(tmp_path, traffic, "3.0.0")
    # Two processes of the same code on two shared cores: the p99 of 62 requests, read from
    # histogram buckets, moves by up to ~1.5x between them; the margin here leaves room for that.
    args = ["--prometheus-url", prometheus, "--feedback-url", stack.feedback_url, "--overlay", str(overlay)]
    args += ["--feedback-token-file", reader_token, "--max-p99-ratio", "2.5"]
    result = _cli("analyze", "--window", "5m", *args)
    verdict = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdict["decision"] == "promote", verdict
    assert verdict["canary"]["error_rate"] == 0.0
    assert verdict["canary"]["p99_ms"] is not None
    promoted = _cli("promote", "--if-healthy", "--dry-run", "--window", "5m", *args)
    assert promoted.returncode == 0, promoted.stderr
    assert f"case-classifier-predictor@{_digests('3.0.0')['predictor']}" in promoted.stdout


def test_too_little_evidence_holds(prometheus, traffic):
    sides = analysis.from_prometheus(prometheus, [traffic, "3.0.0"], "5m")
    verdict = analysis.judge(sides[traffic], sides["3.0.0"], analysis.Margins(min_cases=10_000))
    assert verdict.decision == "hold"
    assert "not enough evidence" in verdict.reasons[0]


def test_an_unreachable_prometheus_is_a_clear_error(tmp_path):
    overlay = _overlay(tmp_path, "1.0.0", "3.0.0")
    with refusing_port() as nothing_listens:  # held: nothing can start listening there meanwhile
        result = _cli("analyze", "--prometheus-url", f"http://{LOOPBACK}:{nothing_listens}", "--overlay", str(overlay))
    assert result.returncode == 2
    assert "error: Prometheus at" in result.stderr
