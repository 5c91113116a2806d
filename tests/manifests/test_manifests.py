"""The manifests, checked offline with the tools a cluster would apply: kustomize, the Kubernetes
schemas, KServe's InferenceService schema, and the security and autoscaling policies."""

from __future__ import annotations

import functools
import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

MANIFESTS = ROOT / "manifests"
OVERLAYS = ("dev", "prod")
CORE_KINDS = {
    "Namespace",
    "ConfigMap",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "CronJob",
}
KUBERNETES_VERSION = "1.32.0"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (Debian kubernetes-client) missing")


def render(overlay: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / "overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def _isvcs(objects: list[dict]) -> list[dict]:
    """The InferenceServices: one per slot (blue, green), each a whole model version."""
    found = [o for o in objects if o["kind"] == "InferenceService"]
    assert [o["metadata"]["name"] for o in found] == ["case-classifier-blue", "case-classifier-green"]
    return found


def _one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}"
    return found[0]


def test_every_overlay_renders_the_whole_application(rendered):
    _, objects = rendered
    kinds = sorted(o["kind"] for o in objects)
    assert kinds.count("NetworkPolicy") == 12  # default deny, DNS, and each path (test_network_fence.py)
    assert "RayJob" not in kinds  # a batch run is asked for (manifests/batch), never re-run by an apply
    assert {
        "InferenceService",
        "VirtualService",
        "CronJob",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Namespace",
    } <= set(kinds)
    assert all(o["metadata"].get("namespace", "case-classifier") == "case-classifier" for o in objects)


#: kubernetes-validate lives in a virtualenv of its own (``make test`` makes it): installed beside
#: the services, the kubernetes client imports it (with jsonschema's format grammars) at start-up,
#: 1.2 s of every cold start, for nothing the services use.
KUBEVAL = ROOT / ".venv-kubeval" / "bin" / "kubernetes-validate"


def _kubeval(paths: list[str]) -> subprocess.CompletedProcess:
    if not KUBEVAL.exists():
        pytest.skip(f"{KUBEVAL} missing: make test installs it")
    command = [str(KUBEVAL), "-k", KUBERNETES_VERSION, "--strict", "--quiet", *paths]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_core_objects_validate_against_the_kubernetes_schemas(rendered, tmp_path):
    _, objects = rendered
    paths = []
    for i, obj in enumerate(o for o in objects if o["kind"] in CORE_KINDS):
        path = tmp_path / f"{i}-{obj['kind']}.yaml"
        path.write_text(yaml.safe_dump(obj))
        paths.append(str(path))
    result = _kubeval(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**yaml.safe_load(Path(paths[0]).read_text()), "unexpected": 1}))
    assert _kubeval([str(broken)]).returncode != 0, "the validator accepts anything"


@functools.cache  # 39,000 lines of YAML: parsed once per process
def _crd_schema() -> dict:
    with gzip.open(ROOT / "tests" / "data" / "kserve-isvc-crd.yaml.gz") as handle:
        crd = yaml.safe_load(handle)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return version["schema"]["openAPIV3Schema"]


def _pruned(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would drop silently: not in the schema where the schema lists fields."""
    problems = []
    if isinstance(value, dict) and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        for key, item in value.items():
            if key not in schema["properties"]:
                problems.append(f"{path}/{key}")
            else:
                problems += _pruned(item, schema["properties"][key], f"{path}/{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _pruned(item, schema["items"], f"{path}/{i}")
    return problems


def test_inference_service_validates_against_kserve_v1beta1(rendered):
    import jsonschema

    _, objects = rendered
    schema = _crd_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    for isvc in _isvcs(objects):
        validator.validate(isvc)
        assert _pruned({k: v for k, v in isvc.items() if k not in ("apiVersion", "kind", "metadata")}, schema) == []


def test_the_pruning_check_catches_a_typo():
    isvc = _isvcs(render("prod"))[0]
    isvc["spec"]["predictor"]["scaleTarge"] = 8
    assert _pruned({"spec": isvc["spec"]}, _crd_schema()) == ["/spec/predictor/scaleTarge"]


def _pod_specs(objects: list[dict]):
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "InferenceService":
            yield from ((f"isvc/{c}", spec[c]) for c in ("predictor", "transformer"))
        elif obj["kind"] == "Deployment":
            yield f"deployment/{obj['metadata']['name']}", spec["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield f"cronjob/{obj['metadata']['name']}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif obj["kind"] == "RayJob":
            cluster = spec["rayClusterSpec"]
            yield "rayjob/head", cluster["headGroupSpec"]["template"]["spec"]
            for group in cluster["workerGroupSpecs"]:
                yield f"rayjob/{group['groupName']}", group["template"]["spec"]
            yield "rayjob/submitter", spec["submitterPodTemplate"]["spec"]


def render_batch() -> list[dict]:
    """The batch run (manifests/batch), rendered as `kubectl create -k` would send it."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / "batch")], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_every_pod_runs_locked_down(rendered, reliability):
    objects = rendered[1] + render_batch()
    checked = 0
    for name, pod in _pod_specs(objects):
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"], name
            assert context["readOnlyRootFilesystem"] is True, name
            writable = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            assert "/tmp" in writable, f"{name}: no writable /tmp on a read-only root"
            # Ray's head and workers are watched by KubeRay, a Job's containers by the Job: they run
            # to completion and serve nothing.
            if not name.startswith(("rayjob", "cronjob")):
                assert container["readinessProbe"], name
                assert container["livenessProbe"], name
            checked += 1
    reliability.record(
        "Artifact and images",
        "containers in the rendered manifests",
        checked,
        "non-root, read-only root filesystem, no privilege escalation, capabilities dropped",
    )


def test_autoscaling_per_environment():
    for overlay, min_replicas in (("dev", 0), ("prod", 2)):
        serving, retired = _isvcs(render(overlay))  # the release serves blue; green is retired
        assert [retired["spec"][c]["minReplicas"] for c in ("predictor", "transformer")] == [0, 0]
        isvc = serving
        for component in ("predictor", "transformer"):
            spec = isvc["spec"][component]
            assert spec["scaleMetric"] == "concurrency"
            assert spec["minReplicas"] == min_replicas, f"{overlay}/{component}"
            assert spec["scaleTarget"] <= spec["containerConcurrency"]


def reason_of(lines: list[str], index: int) -> str:
    """The comment that gives a setting's reason: on its own line, or the comment lines right above it."""
    inline = lines[index].split(" #", 1)[1] if " #" in lines[index] else ""
    above = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        above.append(line.strip().lstrip("#"))
    return " ".join([*reversed(above), inline]).strip()


def test_every_autoscaling_and_canary_setting_has_its_reason_beside_it():
    settings = re.compile(
        r"^\s*(-\s*\{op: replace, path: /spec/\w+/)?(scaleMetric|scaleTarget|containerConcurrency|"
        r"timeout|minReplicas|maxReplicas|canaryTrafficPercent)\b"
    )
    for path in [
        MANIFESTS / "base" / "model" / "inferenceservice.yaml",
        *MANIFESTS.glob("overlays/*/kustomization.yaml"),
    ]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if settings.match(line) or re.search(r"path: /spec/\w+/(min|max)Replicas", line):
                reason = reason_of(lines, i)
                assert len(reason.split()) >= 5, f"{path.name}:{i + 1} has no reason of its own: {line.strip()}"


def test_a_setting_without_its_own_comment_is_caught():
    lines = ["    # Scale on requests in flight, not CPU.", "    scaleMetric: concurrency", "    scaleTarget: 32"]
    assert reason_of(lines, 1)
    assert not reason_of(lines, 2)  # the comment above belongs to the setting before it


def test_the_feedback_store_url_comes_from_a_secret_and_the_log_reaches_the_service(rendered):
    _, objects = rendered
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "feedback")
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert "FEEDBACK_STORE_URL" not in env  # not in the environment: a mounted Secret file
    path = Path(env["FEEDBACK_STORE_URL_FILE"]["value"])
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == str(path.parent))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "feedback-store"
    assert path.name == "url"
    assert mount["readOnly"] is True
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "feedback")
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "transformer-config")
    port = service["spec"]["ports"][0]["port"]
    expected = f"http://feedback.case-classifier.svc.cluster.local:{port}/v1/predictions"
    assert config["data"]["TRANSFORMER_FEEDBACK_URL"] == expected


def test_no_secret_material_in_manifests(reliability):
    text = "\n".join(p.read_text() for p in MANIFESTS.rglob("*.yaml"))
    assert "kind: Secret" not in text
    # A literal value after the key; "secret: {secretName: ...}" (a volume from a Secret) is a reference.
    literal = re.compile(r"(?i)\b(password|token|apikey|secret)\b\s*[:=]\s*[^\s{]")
    assert not literal.search(text)
    assert literal.search("password: hunter2")  # the check still sees a literal
    reliability.record("Artifact and images", "manifests scanned for secret material", 1, "none found")


def test_the_retraining_job_stages_an_unsigned_candidate_with_credentials_from_secret_files(rendered):
    """Retraining proposes: the train step builds an unsigned candidate and its report, the stage
    step puts them in the candidates store; no signing key and no production index in the pod
    (tests/delivery/test_release_chain.py holds the release side)."""
    _, objects = rendered
    (cronjob,) = [o for o in objects if o["kind"] == "CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (train,), (stage,) = pod["initContainers"], pod["containers"]
    flags = dict(a.removeprefix("--").partition("=")[::2] for a in train["args"][1:])
    assert train["args"][0] == "train"
    # The gate runs against the wheel the image keeps; the stage step takes only what this run built.
    assert flags["champion"] == "/opt/champion"
    assert "candidate" in flags
    assert "signing-key" not in flags
    assert flags["report"] == flags["out"] == "/work/candidate"
    assert stage["args"][:2] == ["stage-candidate", flags["out"]]
    assert "command" not in stage  # the image's entrypoint: the case-model command
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = {}
    for container in (train, stage):
        # Nothing secret in the environment: literal paths only, of configuration.
        assert all(set(e) == {"name", "value"} for e in container.get("env", []))
        assert {e["name"] for e in container.get("env", [])} <= {"MODEL_SIGNING_PUBLIC_KEY"}
        for mount in container["volumeMounts"]:
            if "secret" in volumes[mount["name"]]:
                assert mount["readOnly"] is True
                secrets[volumes[mount["name"]]["secret"]["secretName"]] = mount["mountPath"]
    assert secrets == {
        "feedback-store": "/run/secrets/feedback-store",
        "model-candidates-upload": "/run/secrets/model-candidates",
    }
    assert flags["feedback-url-file"] == "/run/secrets/feedback-store/url"
    assert "--store-url-file=/run/secrets/model-candidates/url" in stage["args"]


def test_every_pod_that_runs_the_model_verifies_it_with_the_release_public_key(rendered):
    """Each container whose image holds the model package gets the public key as a read-only file
    from the ConfigMap, and the variable that names it: without both it would refuse to start."""
    checked = []
    for where, pod in _pod_specs(rendered[1] + render_batch()):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            if container["name"] == "ray-job-submitter":
                continue  # the submitter only submits: it never loads the model
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            path = env.get("MODEL_SIGNING_PUBLIC_KEY")
            assert path == "/etc/case-model/signing/model-signing.pub", (where, container["name"])
            (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["configMap"]["name"] == "model-signing-public-key"
            checked.append(container["name"])
    assert sorted(set(checked)) == [
        "feedback",
        "kserve-container",
        "langdetect",
        "ray-head",
        "ray-worker",
        "stage",
        "train",
    ]


def test_the_transformers_hop_gives_up_before_the_component_timeout(rendered):
    """KServe's default hop timeout is 600 s; under Knative's 30 s the CRM would get a bare 504
    and the transformer would keep waiting for an answer nobody reads."""
    _, objects = rendered
    for isvc in _isvcs(objects):
        transformer = isvc["spec"]["transformer"]
        args = transformer["containers"][0]["args"]
        (hop,) = [a.split("=", 1)[1] for a in args if a.startswith("--predictor_request_timeout_seconds=")]
        assert 0 < float(hop) < transformer["timeout"]
