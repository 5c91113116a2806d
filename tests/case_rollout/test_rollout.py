"""The rollout command: exact patches offline, valid against KServe's schema; the real thing on a cluster."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
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

# Renders every environment with kubectl and runs the rollout CLI in subprocesses (~18 s of `make check`).
pytestmark = pytest.mark.slow


def _schema() -> dict:
    from tests.manifests.test_manifests import _crd_schema

    return _crd_schema()


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    """One validator for the CRD's schema: checking the schema itself takes seconds, once is enough."""
    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _check(isvc: dict) -> None:
    from tests.manifests.test_manifests import _pruned

    _validator().validate(isvc)
    assert _pruned({"spec": isvc["spec"]}, _schema()) == []


#: The committed release's digest (no image's: manifests/base/kustomization.yaml says why).
COMMITTED = "sha256:" + "0" * 64


def _digests(version: str) -> dict[str, str]:
    """Digests standing for a version's images: one per component, distinct per version, in the
    registry's form (what CI's images job prints for each image it pushed)."""
    return {c: "sha256:" + hashlib.sha256(f"{c} {version}".encode()).hexdigest() for c in release.COMPONENTS}


def _flags(version: str) -> list[str]:
    """``--digest component=sha256:...`` for each of a version's images."""
    return [word for c, d in _digests(version).items() for word in ("--digest", f"{c}={d}")]


#: The version each known image digest was "built" for: the committed release's, then the tests'.
VERSIONS = {(c, COMMITTED): "1.2.0" for c in release.COMPONENTS} | {
    (c, d): v for v in ("1.3.0", "1.4.0") for c, d in _digests(v).items()
}
IMAGE = re.compile(r"[^@\s]+/case-classifier-(predictor|transformer)@(sha256:[0-9a-f]{64})")


def _version_of(component: str, image: str) -> str:
    """The version whose image, by digest, a component runs (a tag fails here)."""
    match = IMAGE.fullmatch(image)
    assert match, image
    assert match.group(1) == component, image
    return VERSIONS[(component, match.group(2))]


def _cli(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "case_rollout", *argv], capture_output=True, text=True, cwd=ROOT, **kwargs
    )


@pytest.fixture
def overlay(tmp_path) -> Path:
    """A scratch copy of the manifests; the prod overlay in it."""
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    return tmp_path / "manifests" / "overlays" / "prod"


def _render(overlay: Path) -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (Debian kubernetes-client) missing: cannot render the manifests")
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _served(overlay: Path) -> dict[str, object]:
    """What the overlay deploys: per slot the versions whose images (named by digest) the predictor
    and transformer run, and whether it is scaled to zero; the route's weight per slot. Every
    InferenceService checked on the way."""
    objects = _render(overlay)
    served: dict[str, object] = {}
    for isvc in (o for o in objects if o["kind"] == "InferenceService"):
        _check(isvc)
        spec = isvc["spec"]
        # KServe's own canary would split transformer and predictor independently: never used.
        assert all("canaryTrafficPercent" not in spec[c] for c in ("predictor", "transformer"))
        tags = tuple(_version_of(c, spec[c]["containers"][0]["image"]) for c in ("predictor", "transformer"))
        served[isvc["metadata"]["name"].removeprefix("case-classifier-")] = (*tags, spec["predictor"]["minReplicas"])
    (route,) = [o for o in objects if o["kind"] == "VirtualService"]
    served["weights"] = {
        r["headers"]["request"]["set"]["Host"].split(".")[0].split("-")[2]: r["weight"]
        for r in route["spec"]["http"][0]["route"]
    }
    return served


def test_dry_run_prints_both_steps_needs_no_cluster_and_takes_flags_anywhere(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    before = {p: p.read_text() for p in (ROOT / "manifests/overlays/prod/release").iterdir()}
    digests = _flags("1.3.0")
    first = _cli("--dry-run", "deploy", "--model-version", "1.3.0", "--canary", "10", *digests, env=env)
    after = _cli("deploy", "--model-version", "1.3.0", *digests, "--canary", "10", "--dry-run", "-n", "x", env=env)
    explicit = _cli("deploy", "--dry-run=client", "--context", "prod", "--model-version", "1.3.0", *digests, env=env)
    for result in (first, after, explicit):
        assert result.returncode == 0, result.stderr
        assert result.stdout == first.stdout
    staged = release.read(ROOT / "manifests/overlays/prod").stage("1.3.0", _digests("1.3.0"))
    step1, step2 = first.stdout.split("# step 2 of 2\n")
    assert step1 == f"# step 1 of 2\n{release.render(staged)}"
    assert step2 == release.render(staged.shift(10))
    after_files = {p: p.read_text() for p in (ROOT / "manifests/overlays/prod/release").iterdir()}
    assert after_files == before  # a dry run writes nothing
    assert _cli("deploy", "--model-version", "1", "--dry-run=maybe").returncode == 2


def test_canary_promote_and_rollback_render_valid_inference_services(overlay):
    stable = release.read(overlay)
    assert _served(overlay) == {
        "blue": ("1.2.0", "1.2.0", 2),
        "green": ("1.2.0", "1.2.0", 0),
        "weights": {"blue": 100, "green": 0},
    }
    # The idle slot loads the new version first, with no traffic and its pods warm ...
    staged = stable.stage("1.3.0", _digests("1.3.0"), "reg.example/ml")
    release.write(overlay, staged)
    assert _served(overlay) == {
        "blue": ("1.2.0", "1.2.0", 2),
        "green": ("1.3.0", "1.3.0", 2),
        "weights": {"blue": 100, "green": 0},
    }
    # ... then takes its share: whole versions are split, never a transformer from its predictor.
    canary = staged.shift(10)
    release.write(overlay, canary)
    assert _served(overlay) == {
        "blue": ("1.2.0", "1.2.0", 2),
        "green": ("1.3.0", "1.3.0", 2),
        "weights": {"blue": 90, "green": 10},
    }
    isvc = next(o for o in _render(overlay) if o["metadata"]["name"] == "case-classifier-green")
    predictor = f"reg.example/ml/case-classifier-predictor@{_digests('1.3.0')['predictor']}"
    assert isvc["spec"]["predictor"]["containers"][0]["image"] == predictor
    assert release.read(overlay) == canary  # the files are the state
    assert (canary.stable, canary.canary) == ("1.2.0", "1.3.0")
    release.write(overlay, canary.promote())
    assert _served(overlay) == {
        "blue": ("1.2.0", "1.2.0", 0),
        "green": ("1.3.0", "1.3.0", 2),
        "weights": {"blue": 0, "green": 100},
    }
    release.write(overlay, canary.rollback())
    assert _served(overlay) == {
        "blue": ("1.2.0", "1.2.0", 2),
        "green": ("1.3.0", "1.3.0", 0),
        "weights": {"blue": 100, "green": 0},
    }
    assert release.read(overlay).rolled_back == "1.3.0"


def test_every_step_of_a_release_keeps_each_request_inside_one_version(overlay):
    """Along deploy, promote, deploy, rollback: every slot runs one version in both components,
    the route sends requests only to slots' transformers (each linked by KServe to its own
    predictor), and a slot's images change only while it gets no traffic before and after."""
    current = release.read(overlay)
    steps = [current.stage("1.3.0", _digests("1.3.0"))]
    steps.append(steps[-1].shift(10))
    steps.append(steps[-1].promote())
    steps.append(steps[-1].stage("1.4.0", _digests("1.4.0")))
    steps.append(steps[-1].shift(50))
    steps.append(steps[-1].rollback())
    before = _served(overlay)
    for step in steps:
        release.write(overlay, step)
        after = _served(overlay)
        for slot in release.SLOTS:
            predictor_tag, transformer_tag, _ = after[slot]
            assert predictor_tag == transformer_tag, (step, slot)
            if before[slot][:2] != after[slot][:2]:
                assert before["weights"][slot] == after["weights"][slot] == 0, (step, slot)
        assert sum(after["weights"].values()) == 100
        before = after
    route = next(o for o in _render(overlay) if o["kind"] == "VirtualService")
    hosts = {r["headers"]["request"]["set"]["Host"] for r in route["spec"]["http"][0]["route"]}
    assert hosts == {f"case-classifier-{s}-transformer.case-classifier.svc.cluster.local" for s in release.SLOTS}


def test_promote_after_rollback_is_refused(overlay):
    rolled_back = release.read(overlay).deploy("1.3.0", 10, _digests("1.3.0")).rollback()
    release.write(overlay, rolled_back)
    result = _cli("promote", "--dry-run", "--overlay", str(overlay))
    assert result.returncode == 2
    assert "no canary to promote (1.3.0 was rolled back); 1.2.0 serves all traffic" in result.stderr
    # The next canary starts from the stable version again.
    nxt = rolled_back.deploy("1.4.0", 20, _digests("1.4.0"))
    assert (nxt.stable, nxt.canary, nxt.percent, nxt.rolled_back) == ("1.2.0", "1.4.0", 20, None)


def test_full_rollout_leaves_no_earlier_canary_share(overlay):
    with pytest.raises(release.ReleaseError, match=r"1\.2\.0 already serves all traffic \(slot blue\)"):
        release.read(overlay).deploy("1.2.0", 10, _digests("1.3.0"))
    canary = release.read(overlay).deploy("1.3.0", 10, _digests("1.3.0"))
    with pytest.raises(release.ReleaseError, match=r"a canary of 1\.3\.0 is in flight"):
        canary.deploy("1.4.0", 100, _digests("1.4.0"))
    release.write(overlay, canary.promote().deploy("1.4.0", 100, _digests("1.4.0")))
    assert _served(overlay) == {
        "blue": ("1.4.0", "1.4.0", 2),
        "green": ("1.3.0", "1.3.0", 0),
        "weights": {"blue": 100, "green": 0},
    }


def test_a_later_apply_of_the_manifests_deploys_the_rollouts_version(overlay):
    """The images live in the overlay's release files, which the rollout rewrites: rendering the
    overlay (what kubectl apply -k sends) gives the rollout's versions, not the base's."""
    release.write(overlay, release.read(overlay).deploy("1.3.0", 100, _digests("1.3.0")))
    assert _served(overlay)["green"] == ("1.3.0", "1.3.0", 2)
    route = next(o for o in _render(overlay) if o["kind"] == "VirtualService")
    assert route["metadata"]["annotations"]["case-classifier.io/green-version"] == "1.3.0"
    assert route["metadata"]["annotations"]["case-classifier.io/stable-slot"] == "green"
    digest = route["metadata"]["annotations"]["case-classifier.io/green-transformer-digest"]
    assert digest == _digests("1.3.0")["transformer"]


@pytest.mark.parametrize("canary", ["0", "101", "-5"])
def test_canary_outside_1_to_100_is_refused(canary):
    result = _cli("--dry-run", "deploy", "--model-version", "1.3.0", "--canary", canary)
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


def test_the_rollout_role_may_read_and_patch_the_release_objects_only(overlay):
    (role,) = [d for d in _render(overlay) if d["kind"] == "Role" and d["metadata"]["name"] == "case-rollout"]
    assert role["rules"] == [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "resourceNames": ["case-classifier-blue", "case-classifier-green"],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["networking.istio.io"],
            "resources": ["virtualservices"],
            "resourceNames": ["case-classifier"],
            "verbs": ["get", "patch"],
        },
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
    """Needs the images of MODEL_VERSION and NEXT_MODEL_VERSION in REGISTRY (see README, deploy),
    their digests in MODEL_DIGESTS and NEXT_MODEL_DIGESTS (``predictor=sha256:...,transformer=sha256:...``).
    Works on a scratch copy of the manifests: the repository's release file is left alone."""
    registry = os.environ.get("REGISTRY", "registry.example.com")
    current, nxt = os.environ.get("MODEL_VERSION", "1.2.0"), os.environ["NEXT_MODEL_VERSION"]
    digests = {
        version: [word for d in os.environ[variable].split(",") for word in ("--digest", d)]
        for version, variable in ((current, "MODEL_DIGESTS"), (nxt, "NEXT_MODEL_DIGESTS"))
    }
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    overlay = tmp_path / "manifests" / "overlays" / "dev"

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "case_rollout", "--timeout", "900", "--overlay", str(overlay), *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout

    first = ["deploy", "--model-version", current, *digests[current], "--canary", "100", "--registry", registry]
    run(*first, "--dry-run=server")
    subprocess.run(["kubectl", "apply", "-k", str(overlay)], check=True)
    run(*first)
    run("deploy", "--model-version", nxt, *digests[nxt], "--canary", "10")
    assert sorted(json.loads(run("status"))["weights"].values()) == [10, 90]
    run("promote")
    assert sorted(json.loads(run("status"))["weights"].values()) == [0, 100]
    run("deploy", "--model-version", current, *digests[current], "--canary", "10")
    run("rollback")
    weights = json.loads(run("status"))["weights"]
    subprocess.run(["kubectl", "apply", "-k", str(overlay)], check=True)  # a later apply changes nothing
    assert json.loads(run("status"))["weights"] == weights


def _images(patch_text: str) -> list[str]:
    return [op["value"] for op in yaml.safe_load(patch_text) if op["path"].endswith("/image")]


def _steps_of(stdout: str) -> list[dict[str, str]]:
    """A dry run's output as {file stem: its text} per step."""
    steps = []
    for step in stdout.split("# step ")[1:]:
        files = {}
        for chunk in step.split(f"# --- {release.FOLDER}/")[1:]:
            name, _, text = chunk.partition(".yaml\n")
            files[name] = text
        steps.append(files)
    return steps


def test_deploy_with_a_registry_changes_only_the_canary_slot(overlay, tmp_path):
    """One registry for both slots re-imaged the stable slot too: the serving pods would have been
    replaced, from another registry, while they carry all the traffic."""
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    stable_blue = (ROOT / "manifests/overlays/prod/release/blue.yaml").read_text()
    result = _cli(
        "deploy", "--model-version", "1.3.0", *_flags("1.3.0"), "--registry", "reg.example/ml",
        "--dry-run", "--overlay", str(overlay), env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for step in _steps_of(result.stdout):
        assert (
            _images(step["blue"])
            == _images(stable_blue)
            == [
                f"registry.example.com/case-classifier-predictor@{COMMITTED}",
                f"registry.example.com/case-classifier-transformer@{COMMITTED}",
            ]
        )
        assert _images(step["green"]) == [
            f"reg.example/ml/case-classifier-{c}@{d}" for c, d in _digests("1.3.0").items()
        ]
    canary = release.read(overlay).deploy("1.3.0", 10, _digests("1.3.0"), "reg.example/ml")
    release.write(overlay, canary)
    assert release.read(overlay) == canary  # each slot's registry is recorded, and read back
    assert (canary.registry_of("blue"), canary.registry_of("green")) == ("registry.example.com", "reg.example/ml")
    # After the promote, the next canary (blue, idle now) comes from the stable slot's registry by default.
    following = canary.promote().deploy("1.4.0", 10, _digests("1.4.0"))
    assert (following.registry_of("blue"), following.registry_of("green")) == ("reg.example/ml", "reg.example/ml")
    with pytest.raises(release.ReleaseError, match="not an image registry"):
        release.read(overlay).promote().stage("1.4.0", _digests("1.4.0"), "reg example")


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("1.2.0 ", r"not written as PEP 440's normal form '1\.2\.0'"),
        (" 1.3.0", r"not written as PEP 440's normal form '1\.3\.0'"),
        ("1.3.0\n", r"not written as PEP 440's normal form '1\.3\.0'"),
        ("v1.3.0", r"not written as PEP 440's normal form '1\.3\.0'"),
        ("1.3.0;latest", "is not a PEP 440 version"),
        ("latest", "is not a PEP 440 version"),
        ("", "is not a PEP 440 version"),
    ],
)
def test_a_bad_version_is_refused_before_any_file_is_written(version, reason, overlay, tmp_path):
    """Not a dry run: a version let through would be written, then the cluster found missing."""
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    folder = overlay / release.FOLDER
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = _cli("deploy", "--model-version", version, *_flags("1.3.0"), "--overlay", str(overlay), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: model version {version!r} ")
    assert re.search(reason, result.stderr), result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert "wrote" not in result.stdout


def test_the_same_version_written_otherwise_already_serves(overlay):
    with pytest.raises(release.ReleaseError, match=r"1\.2\.0\.0 already serves all traffic \(slot blue\)"):
        release.read(overlay).stage("1.2.0.0", _digests("1.3.0"))


def _deploy_writes_nothing(overlay: Path, tmp_path: Path, *flags: str) -> str:
    """Run a real deploy (not a dry run) that must be refused: exit 2, no release file changed.
    Its stderr."""
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    folder = overlay / release.FOLDER
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = _cli("deploy", "--model-version", "1.3.0", *flags, "--overlay", str(overlay), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert "wrote" not in result.stdout
    return result.stderr


GOOD = _digests("1.3.0")


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ([], "predictor missing; transformer missing"),
        (["--digest", f"predictor={GOOD['predictor']}"], "transformer missing"),
        (["--digest", f"predictor={GOOD['predictor']}", "--digest", "transformer=1.3.0"], "transformer digest '1.3.0'"),
        (
            ["--digest", f"predictor={GOOD['predictor'].upper()}", "--digest", f"transformer={GOOD['transformer']}"],
            "is not an image digest",
        ),
        (
            ["--digest", f"predictor={GOOD['predictor'][:-1]}", "--digest", f"transformer={GOOD['transformer']}"],
            "is not an image digest",
        ),
        (
            [
                "--digest",
                f"predictor=reg.example/x@{GOOD['predictor']}",
                "--digest",
                f"transformer={GOOD['transformer']}",
            ],
            "is not an image digest",
        ),
        ([*_flags("1.3.0"), "--digest", f"batch={GOOD['predictor']}"], "batch is not a component"),
        ([*_flags("1.3.0"), "--digest", f"predictor={GOOD['predictor']}"], "names predictor twice"),
        (["--digest", GOOD["predictor"]], "is not component=sha256:<64 hex>"),
    ],
)
def test_a_deploy_without_a_digest_for_each_image_is_refused_before_any_file_is_written(
    flags, reason, overlay, tmp_path
):
    """A tag (or nothing) would deploy whatever the registry points it at when the pod starts."""
    assert reason in _deploy_writes_nothing(overlay, tmp_path, *flags)


def test_an_image_is_never_written_by_tag():
    assert release.image("reg.example/ml/", "predictor", GOOD["predictor"]) == (
        f"reg.example/ml/case-classifier-predictor@{GOOD['predictor']}"
    )
    for tag in ("1.3.0", "latest", "", f"1.3.0@{GOOD['predictor']}"):
        with pytest.raises(release.ReleaseError, match="is not an image digest"):
            release.image("reg.example/ml", "predictor", tag)


TAGGED = "registry.example.com/case-classifier-predictor:1.2.0"


def test_a_release_file_naming_a_tag_is_refused_when_the_rollout_reads_it(overlay, tmp_path):
    """A slot file edited to a tag would deploy what nobody scanned; the rollout
    refuses to start any step from it (exit 2, nothing written), dry run or not."""
    blue = overlay / release.FOLDER / "blue.yaml"
    blue.write_text(blue.read_text().replace(f"registry.example.com/case-classifier-predictor@{COMMITTED}", TAGGED))
    assert TAGGED in blue.read_text()
    stderr = _deploy_writes_nothing(overlay, tmp_path, *_flags("1.3.0"))
    assert f"{blue}: {TAGGED!r} names an image by tag, not by digest" in stderr
    for step in ("promote", "rollback"):
        result = _cli(step, "--dry-run", "--overlay", str(overlay))
        assert result.returncode == 2
        assert "names an image by tag, not by digest" in result.stderr


def test_a_release_written_before_digests_is_refused(overlay, tmp_path):
    """The release files as they were (tags, one registry, no digest recorded): read, refused."""
    folder = overlay / release.FOLDER
    for slot in release.SLOTS:
        path = folder / f"{slot}.yaml"
        path.write_text(re.sub(r"@sha256:0{64}", ":1.2.0", path.read_text()))
    route = folder / "route.yaml"
    route.write_text("\n".join(line for line in route.read_text().splitlines() if "-digest" not in line) + "\n")
    stderr = _deploy_writes_nothing(overlay, tmp_path, *_flags("1.3.0"))
    assert "the release records no image digest (blue-predictor-digest, " in stderr
    assert "its images are named by tag" in stderr


def test_a_slot_file_other_than_the_routes_record_is_refused(overlay, tmp_path):
    """A digest swapped by hand in a slot file would run images the record does not name."""
    blue = overlay / release.FOLDER / "blue.yaml"
    blue.write_text(blue.read_text().replace(f"predictor@{COMMITTED}", f"predictor@{GOOD['predictor']}"))
    stderr = _deploy_writes_nothing(overlay, tmp_path, *_flags("1.3.0"))
    assert "are not the ones the route records" in stderr


def test_the_old_command_name_still_works_for_one_release_and_says_so(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    digests = _flags("1.3.0")
    new = _cli("deploy", "--model-version", "1.3.0", "--dry-run", *digests, env=env)
    code = "from case_rollout.cli import legacy_main; raise SystemExit(legacy_main())"
    legacy = subprocess.run(
        [sys.executable, "-c", code, "rollout", "deploy", "--model-version", "1.3.0", "--dry-run", *digests],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert legacy.returncode == new.returncode == 0, legacy.stderr
    assert legacy.stdout == new.stdout
    assert "case-classifier rollout <step> is now case-rollout <step>" in legacy.stderr
    assert "case-classifier" not in new.stderr
