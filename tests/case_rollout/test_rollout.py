"""The rollout command: exact patches offline, valid against KServe's schema; the real thing on a cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from case_rollout import release
from case_rollout.cluster import Connection, RolloutError, api
from tests.conftest import ROOT


def _schema() -> dict:
    from tests.manifests.test_manifests import _crd_schema

    return _crd_schema()


def _check(isvc: dict) -> None:
    from tests.manifests.test_manifests import _pruned

    jsonschema.validate(isvc, _schema())
    assert _pruned({"spec": isvc["spec"]}, _schema()) == []


def _cli(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "case_rollout", *argv], capture_output=True, text=True, cwd=ROOT, **kwargs
    )


@pytest.fixture
def overlay(tmp_path) -> Path:
    """A scratch copy of the manifests; the prod overlay in it."""
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    return tmp_path / "manifests" / "overlays" / "prod"


def _rendered(overlay: Path) -> dict:
    import yaml

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (Debian kubernetes-client) missing: cannot render the manifests")
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    isvc = next(doc for doc in yaml.safe_load_all(out) if doc and doc["kind"] == "InferenceService")
    _check(isvc)
    return isvc


def _served(isvc: dict) -> dict[str, tuple[str, int | None]]:
    """Per component: the image tag in the spec and the canary share."""
    return {
        c: (isvc["spec"][c]["containers"][0]["image"].rsplit(":", 1)[1], isvc["spec"][c].get("canaryTrafficPercent"))
        for c in ("predictor", "transformer")
    }


def test_dry_run_prints_the_release_needs_no_cluster_and_takes_flags_anywhere(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    before = (ROOT / "manifests/overlays/prod/release.yaml").read_text()
    first = _cli("rollout", "--dry-run", "deploy", "--model-version", "1.3.0", "--canary", "10", env=env)
    after = _cli("rollout", "deploy", "--model-version", "1.3.0", "--canary", "10", "--dry-run", "-n", "x", env=env)
    explicit = _cli("rollout", "deploy", "--dry-run=client", "--context", "prod", "--model-version", "1.3.0", env=env)
    for result in (first, after, explicit):
        assert result.returncode == 0, result.stderr
        assert result.stdout == first.stdout
    expected = release.read(ROOT / "manifests/overlays/prod").deploy("1.3.0", 10)
    assert yaml.safe_load(first.stdout) == expected.ops()
    assert (ROOT / "manifests/overlays/prod/release.yaml").read_text() == before  # a dry run writes nothing
    assert _cli("rollout", "deploy", "--model-version", "1", "--dry-run=maybe").returncode == 2


def test_canary_promote_and_rollback_render_valid_inference_services(overlay):
    stable = release.read(overlay)
    assert _served(_rendered(overlay)) == {"predictor": ("1.2.0", None), "transformer": ("1.2.0", None)}
    canary = stable.deploy("1.3.0", 10, "reg.example/ml")
    release.write(overlay, canary)
    isvc = _rendered(overlay)
    # Both components move together: the same version's text steps and model, the same share.
    assert _served(isvc) == {"predictor": ("1.3.0", 10), "transformer": ("1.3.0", 10)}
    assert isvc["spec"]["predictor"]["containers"][0]["image"] == "reg.example/ml/case-classifier-predictor:1.3.0"
    assert release.read(overlay) == canary  # the file is the state
    release.write(overlay, canary.promote())
    assert _served(_rendered(overlay)) == {"predictor": ("1.3.0", None), "transformer": ("1.3.0", None)}
    release.write(overlay, canary.rollback())
    assert _served(_rendered(overlay)) == {"predictor": ("1.3.0", 0), "transformer": ("1.3.0", 0)}


def test_promote_after_rollback_is_refused(overlay):
    """KServe alone would send 100% to the rolled-back revision when the canary field goes."""
    rolled_back = release.read(overlay).deploy("1.3.0", 10).rollback()
    release.write(overlay, rolled_back)
    result = _cli("rollout", "promote", "--dry-run", "--overlay", str(overlay))
    assert result.returncode == 2
    assert "no canary to promote (1.3.0 was rolled back); 1.2.0 serves all traffic" in result.stderr
    # The next canary starts from the stable version again.
    nxt = rolled_back.deploy("1.4.0", 20)
    assert (nxt.stable, nxt.canary, nxt.percent, nxt.rolled_back) == ("1.2.0", "1.4.0", 20, None)


def test_full_rollout_leaves_no_earlier_canary_share(overlay):
    canary = release.read(overlay).deploy("1.3.0", 10)
    with pytest.raises(release.ReleaseError, match=r"a canary of 1\.3\.0 is in flight"):
        canary.deploy("1.4.0", 100)
    release.write(overlay, canary.promote().deploy("1.4.0", 100))
    assert _served(_rendered(overlay)) == {"predictor": ("1.4.0", None), "transformer": ("1.4.0", None)}


def test_a_later_apply_of_the_manifests_deploys_the_rollouts_version(overlay):
    """The tag lives in the overlay's release file, which the rollout rewrites: rendering the
    overlay (what kubectl apply -k sends) gives the rollout's version, not the base's."""
    release.write(overlay, release.read(overlay).deploy("1.3.0", 100))
    isvc = _rendered(overlay)
    assert _served(isvc)["predictor"] == ("1.3.0", None)
    assert isvc["metadata"]["annotations"]["case-classifier.io/stable-version"] == "1.3.0"


@pytest.mark.parametrize("canary", ["0", "101", "-5"])
def test_canary_outside_1_to_100_is_refused(canary):
    result = _cli("rollout", "--dry-run", "deploy", "--model-version", "1.3.0", "--canary", canary)
    assert result.returncode == 2
    assert "within 1..100" in result.stderr


def test_the_kubeconfig_comes_before_the_in_cluster_config(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "a", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "one", "context": {"cluster": "a", "user": "u"}},
                    {"name": "two", "context": {"cluster": "a", "user": "u", "namespace": "n"}},
                ],
                "current-context": "one",
            }
        )
    )
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # as inside a pod
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    objects = api(Connection())
    assert objects.api_client.configuration.host == "https://127.0.0.1:6443"
    assert Connection(context="two", kubeconfig=str(kubeconfig)).kubectl_flags() == [
        "--context=two",
        f"--kubeconfig={kubeconfig}",
    ]
    with pytest.raises(RolloutError, match="no cluster to talk to"):
        api(Connection(context="missing"))


def test_the_rollout_role_may_read_and_patch_the_inference_service_only(overlay):
    import yaml as _yaml

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (Debian kubernetes-client) missing: cannot render the manifests")
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    (role,) = [
        d for d in _yaml.safe_load_all(out) if d and d["kind"] == "Role" and d["metadata"]["name"] == "case-rollout"
    ]
    assert role["rules"] == [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "resourceNames": ["case-classifier"],
            "verbs": ["get", "patch"],
        }
    ]


def _cluster_with_kserve() -> str | None:
    if not os.environ.get("KUBECONFIG"):
        return "no KUBECONFIG: set it to a cluster with KServe installed to run the rollout for real"
    if shutil.which("kubectl") is None:
        return "kubectl missing"
    probe = subprocess.run(["kubectl", "get", "crd", "inferenceservices.serving.kserve.io"], capture_output=True)
    return None if probe.returncode == 0 else "the cluster in KUBECONFIG has no KServe InferenceService CRD"


@pytest.mark.cluster
@pytest.mark.skipif(_cluster_with_kserve() is not None, reason=str(_cluster_with_kserve()))
def test_deploy_canary_promote_rollback_on_a_real_cluster(tmp_path):
    """Needs the images of MODEL_VERSION and NEXT_MODEL_VERSION in REGISTRY (see README, deploy).
    Works on a scratch copy of the manifests: the repository's release file is left alone."""
    registry = os.environ.get("REGISTRY", "registry.example.com")
    current, nxt = os.environ.get("MODEL_VERSION", "1.2.0"), os.environ["NEXT_MODEL_VERSION"]
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    overlay = tmp_path / "manifests" / "overlays" / "dev"

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "case_rollout", "rollout", "--timeout", "900", "--overlay", str(overlay), *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout

    run("deploy", "--model-version", current, "--canary", "100", "--registry", registry, "--dry-run=server")
    subprocess.run(["kubectl", "apply", "-k", str(overlay)], check=True)
    run("deploy", "--model-version", current, "--canary", "100", "--registry", registry)
    run("deploy", "--model-version", nxt, "--canary", "10")
    split = json.loads(run("status"))["traffic"]["predictor"]
    assert sorted(t["percent"] for t in split if t["percent"]) == [10, 90]
    run("promote")
    assert [t["percent"] for t in json.loads(run("status"))["traffic"]["predictor"] if t["percent"]] == [100]
    run("deploy", "--model-version", current, "--canary", "10")
    run("rollback")
    split = json.loads(run("status"))["traffic"]["predictor"]
    assert [t["percent"] for t in split if t["percent"]] == [100]
    subprocess.run(["kubectl", "apply", "-k", str(overlay)], check=True)  # a later apply changes nothing
    split = json.loads(run("status"))["traffic"]["predictor"]
    assert [t["percent"] for t in split if t["percent"]] == [100]
