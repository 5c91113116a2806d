"""The predictor alone: contract, vectorised batches, limits, and a refused artifact."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest

from case_model import load
from dev.processes import refusing_port
from tests.conftest import ROOT, SOURCE_ENV
from tests.support.v2 import MODEL, infer, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


def _body(texts, **parameters):
    body = {"id": "p-1", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]}
    if parameters:
        body["parameters"] = parameters
    return body


def test_batch_matches_the_in_process_model(stack, artifact_dir, demo_cases):
    texts = demo_cases[2]["text"].head(64).tolist()
    from case_model import clean_text

    cleaned = [clean_text(t) or "empty" for t in texts]
    out = outputs(infer(stack.predictor_url, _body(cleaned)))
    expected = load(artifact_dir).predict(cleaned)
    assert out["label"] == expected.labels
    assert out["confidence"] == pytest.approx(expected.confidences.tolist(), rel=1e-6)
    assert len(out["top_labels"]) == 64 * 3


def test_version_and_metadata(stack):
    body = infer(stack.predictor_url, _body(["the fan is loud"])).json()
    assert body["model_version"] == "1.0.0"
    meta = httpx.get(f"{stack.predictor_url}/v2/models/{MODEL}").json()
    assert [t["name"] for t in meta["inputs"]] == ["text"]
    assert {t["name"] for t in meta["outputs"]} == {
        "label",
        "confidence",
        "top_labels",
        "top_probabilities",
        "explanation",
    }


def test_explanation_only_when_asked(stack):
    assert "explanation" not in outputs(infer(stack.predictor_url, _body(["the fan is loud"])))
    assert "explanation" in outputs(infer(stack.predictor_url, _body(["the fan is loud"], explain=True)))


def test_batch_over_the_limit_is_refused(stack):
    response = infer(stack.predictor_url, _body(["the fan is loud"] * 1025))
    assert response.status_code == 400
    assert "exceeds the maximum of 1024" in response.json()["error"]


def test_tampered_artifact_keeps_the_predictor_from_ever_serving(artifact_dir, tmp_path, reliability):
    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    with (tampered / "model.npz").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    # Ports held bound (not listening) by the test: the predictor never gets to bind them, and
    # nothing else can listen there while the test asks whether anything answers.
    with refusing_port() as port, refusing_port() as grpc_port:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "predictor",
                "--model-dir",
                str(tampered),
                "--http_port",
                str(port),
                "--grpc_port",
                str(grpc_port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **SOURCE_ENV,
                "PATH": "/usr/bin:/bin",
                "MODEL_SIGNING_PUBLIC_KEY": os.environ["MODEL_SIGNING_PUBLIC_KEY"],
            },
            cwd=ROOT,
        )
        assert result.returncode == 3
        assert "changed since signing: 'model.npz'" in result.stdout
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/v2/health/ready")
    reliability.record(
        "Artifact and images",
        "predictor started on a tampered model file",
        1,
        "exits 3 before serving, saying why: never ready",
    )
