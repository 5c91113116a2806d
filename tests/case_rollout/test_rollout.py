"""The rollout command: exact patches offline, valid against KServe's schema; the real thing on a cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import jsonpatch
import jsonschema
import pytest

from case_rollout import patches
from tests.conftest import ROOT


def _isvc() -> dict:
    import yaml

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (Debian kubernetes-client) missing: cannot render the manifests")
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "manifests" / "overlays" / "prod")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(doc for doc in yaml.safe_load_all(out) if doc and doc["kind"] == "InferenceService")


def _schema() -> dict:
    from tests.manifests.test_manifests import _crd_schema

    return _crd_schema()


def _check(isvc: dict) -> None:
    from tests.manifests.test_manifests import _pruned

    jsonschema.validate(isvc, _schema())
    assert _pruned({"spec": isvc["spec"]}, _schema()) == []


def _dry_run_deploy(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``case-classifier rollout --dry-run deploy --model-version 1.3.0 ARGS``."""
    argv = [sys.executable, "-m", "case_rollout", "rollout", "--dry-run", "deploy", "--model-version", "1.3.0", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, **kwargs)


def test_dry_run_prints_the_exact_patch_and_needs_no_cluster(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    result = _dry_run_deploy("--canary", "10", "--registry", "reg.example/ml", env=env, check=True)
    assert json.loads(result.stdout) == patches.deploy("1.3.0", 10, "reg.example/ml")


def test_canary_deploy_promote_and_rollback_patches_keep_a_valid_inference_service():
    isvc = _isvc()
    canary = jsonpatch.apply_patch(isvc, patches.deploy("1.3.0", 10, "reg.example/ml"))
    _check(canary)
    for component in ("predictor", "transformer"):
        spec = canary["spec"][component]
        assert spec["canaryTrafficPercent"] == 10
        assert spec["containers"][0]["image"] == f"reg.example/ml/case-classifier-{component}:1.3.0"
        assert spec["containers"][0]["args"] == isvc["spec"][component]["containers"][0]["args"]  # nothing else moved
    promoted = jsonpatch.apply_patch(canary, patches.promote(canary))
    _check(promoted)
    assert all("canaryTrafficPercent" not in promoted["spec"][c] for c in ("predictor", "transformer"))
    assert patches.promote(promoted) == []  # nothing left to promote
    rolled_back = jsonpatch.apply_patch(canary, patches.rollback())
    _check(rolled_back)
    assert all(rolled_back["spec"][c]["canaryTrafficPercent"] == 0 for c in ("predictor", "transformer"))


def test_full_rollout_at_100_percent_sets_no_canary():
    ops = patches.deploy("1.3.0", 100, "reg.example")
    assert all(op["path"].endswith("/image") for op in ops)


@pytest.mark.parametrize("canary", ["0", "101", "-5"])
def test_canary_outside_1_to_100_is_refused(canary):
    result = _dry_run_deploy("--canary", canary)
    assert result.returncode == 2
    assert "within 1..100" in result.stderr


def _cluster_with_kserve() -> str | None:
    if not os.environ.get("KUBECONFIG"):
        return "no KUBECONFIG: set it to a cluster with KServe installed to run the rollout for real"
    if shutil.which("kubectl") is None:
        return "kubectl missing"
    probe = subprocess.run(["kubectl", "get", "crd", "inferenceservices.serving.kserve.io"], capture_output=True)
    return None if probe.returncode == 0 else "the cluster in KUBECONFIG has no KServe InferenceService CRD"


@pytest.mark.cluster
@pytest.mark.skipif(_cluster_with_kserve() is not None, reason=str(_cluster_with_kserve()))
def test_deploy_canary_promote_rollback_on_a_real_cluster():
    """Needs the images of MODEL_VERSION and NEXT_MODEL_VERSION in REGISTRY (see README, deploy)."""
    registry = os.environ.get("REGISTRY", "registry.example.com")
    current, nxt = os.environ.get("MODEL_VERSION", "1.2.0"), os.environ["NEXT_MODEL_VERSION"]

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "case_rollout", "rollout", "--timeout", "900", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout

    subprocess.run(["kubectl", "apply", "-k", str(ROOT / "manifests" / "overlays" / "dev")], check=True)
    run("deploy", "--model-version", current, "--canary", "100", "--registry", registry)
    run("deploy", "--model-version", nxt, "--canary", "10", "--registry", registry)
    split = json.loads(run("status"))["traffic"]["predictor"]
    assert sorted(t["percent"] for t in split if t["percent"]) == [10, 90]
    run("promote")
    assert [t["percent"] for t in json.loads(run("status"))["traffic"]["predictor"] if t["percent"]] == [100]
    run("deploy", "--model-version", current, "--canary", "10", "--registry", registry)
    run("rollback")
    split = json.loads(run("status"))["traffic"]["predictor"]
    assert [t["percent"] for t in split if t["percent"]] == [100]
