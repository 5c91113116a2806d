"""The manifests, checked offline with the tools a cluster would apply: kustomize, the Kubernetes
schemas, KServe's InferenceService schema, and the security and autoscaling policies."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.manifests.crd_schema import pruned, schema

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
    "ServiceAccount",
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
    assert kinds.count("NetworkPolicy") == 15  # default deny, DNS, istiod, and each path (test_network_fence.py)
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
        "ServiceAccount",
        "AuthorizationPolicy",
        "RequestAuthentication",
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


#: The pruning check, by the name tests/case_rollout imports it under.
_pruned = pruned


def _crd_schema() -> dict:
    """KServe's InferenceService v1beta1 schema (tests/data/kserve-isvc-crd.yaml.gz)."""
    return schema("kserve-isvc-crd.yaml.gz", "serving.kserve.io/v1beta1", "InferenceService")


def test_inference_service_validates_against_kserve_v1beta1(rendered):
    import jsonschema

    _, objects = rendered
    isvc_schema = _crd_schema()
    validator = jsonschema.validators.validator_for(isvc_schema)(isvc_schema)
    for isvc in _isvcs(objects):
        validator.validate(isvc)
        assert pruned({k: v for k, v in isvc.items() if k not in ("apiVersion", "kind", "metadata")}, isvc_schema) == []


def test_the_pruning_check_catches_a_typo():
    isvc = _isvcs(render("prod"))[0]
    isvc["spec"]["predictor"]["scaleTarge"] = 8
    assert pruned({"spec": isvc["spec"]}, _crd_schema()) == ["/spec/predictor/scaleTarge"]


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
    step puts them in the candidates store; no signing key and no upload to the production index
    in the pod, only a read-only account for its versions (tests/delivery/test_release_chain.py
    holds the release side)."""
    _, objects = rendered
    (cronjob,) = [o for o in objects if o["kind"] == "CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (train,), (stage,) = pod["initContainers"], pod["containers"]
    flags = dict(a.removeprefix("--").partition("=")[::2] for a in train["args"][1:])
    assert train["args"][0] == "train"
    # The gate runs against the wheels the image keeps, the champion and the anchor (the first
    # approved model of the line), each where Dockerfile.retrain keeps it and the final stage
    # copies it; no volume is mounted there, so the pod cannot swap either. The stage step takes
    # only what this run built.
    assert flags["champion"] == "/opt/champion"
    assert flags["anchor"] == "/opt/anchor"
    dockerfile = (ROOT / "Dockerfile.retrain").read_text()
    for kept, path in (("KEEP_MODEL_WHEEL", flags["champion"]), ("KEEP_ANCHOR_WHEEL", flags["anchor"])):
        assert f"{kept}={path} " in dockerfile
        assert f"COPY --from=build {path} {path}" in dockerfile
        assert not [m for m in train["volumeMounts"] if f"{path}/".startswith(m["mountPath"].rstrip("/") + "/")]
    assert "candidate" in flags
    assert "signing-key" not in flags
    assert flags["report"] == flags["out"] == "/work/candidate"
    assert stage["args"][:2] == ["stage-candidate", flags["out"]]
    assert "command" not in stage  # the image's entrypoint: the case-model command
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = {}
    for container in (train, stage):
        # Nothing in the environment at all: the settings are the arguments, the credentials files.
        assert container.get("env", []) == []
        for mount in container["volumeMounts"]:
            if "secret" in volumes[mount["name"]]:
                assert mount["readOnly"] is True
                secrets[volumes[mount["name"]]["secret"]["secretName"]] = mount["mountPath"]
    assert secrets == {
        "feedback-store": "/run/secrets/feedback-store",
        "model-candidates-upload": "/run/secrets/model-candidates",
        "model-index-read": "/run/secrets/model-index-read",
    }
    assert flags["feedback-url-file"] == "/run/secrets/feedback-store/url"
    # Numbered above the index's versions and every staged candidate: two runs, two versions.
    assert flags["index-url-file"] == "/run/secrets/model-index-read/url"
    assert flags["candidates-url-file"] == "/run/secrets/model-candidates/url"
    assert "--store-url-file=/run/secrets/model-candidates/url" in stage["args"]


#: What a signing public key handed to a pod would be named by: the key is fixed in each image at
#: build time (case_signing's image_key_path) and any other one given is refused.
SIGNING_KEY_NAMES = re.compile(
    r"(?i)signing[-_.]?(public[-_.]?key|pub\b)|model-signing|case-model/signing|--public-key"
)


def _signing_key_mentions(objects: list[dict]) -> list[str]:
    """Every place of the objects that mounts, sets or names a signing public key."""
    found = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "ConfigMap" and (
            SIGNING_KEY_NAMES.search(obj["metadata"]["name"])
            or any(SIGNING_KEY_NAMES.search(k) for k in obj.get("data", {}))
        ):
            found.append(f"{where}: a ConfigMap of a key")
        if SIGNING_KEY_NAMES.search(yaml.safe_dump(obj)):
            found.append(f"{where}: names a signing key")
    for where, pod in _pod_specs(objects):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            names = [e["name"] for e in container.get("env", [])]
            found += [f"{where}/{container['name']}: env {n}" for n in names if "SIGNING" in n.upper()]
    return found


def test_no_pod_is_handed_a_signing_public_key(rendered):
    """The release key's public half is the image's own (fixed at build time; a pod cannot be
    pointed at another, any other one is refused): no rendered object mounts one, sets a variable
    naming one or ships one as a ConfigMap."""
    objects = rendered[1] + render_batch()
    assert _signing_key_mentions(objects) == []
    # The check still sees each way a key used to be handed over.
    (deployment,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "feedback"]
    pod = deployment["spec"]["template"]["spec"]
    planted = [
        {"kind": "ConfigMap", "metadata": {"name": "release-key"}, "data": {"model-signing.pub": "PEM"}},
        {
            **deployment,
            "spec": {
                **deployment["spec"],
                "template": {
                    "spec": {
                        **pod,
                        "containers": [
                            {
                                **pod["containers"][0],
                                "env": [{"name": "MODEL_SIGNING_PUBLIC_KEY", "value": "/keys/k.pem"}],
                            }
                        ],
                    }
                },
            },
        },
        {
            **deployment,
            "spec": {
                **deployment["spec"],
                "template": {
                    "spec": {**pod, "volumes": [{"name": "key", "configMap": {"name": "model-signing-public-key"}}]}
                },
            },
        },
    ]
    assert all(_signing_key_mentions([obj]) for obj in planted)


#: Values that turn a setting off.
OFF = {"false", "0", "off", "no"}


def _auth_switches(objects: list[dict]) -> list[tuple[str, str, str]]:
    """(where, name, value) of every *_AUTH environment variable, ConfigMap key and --auth flag."""
    found = []
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            for key, value in obj.get("data", {}).items():
                if key.upper().endswith("_AUTH"):
                    found.append((f"configmap/{obj['metadata']['name']}", key, str(value)))
    for where, pod in _pod_specs(objects):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            for env in container.get("env", []):
                if env["name"].upper().endswith("_AUTH"):
                    found.append((where, env["name"], str(env.get("value", ""))))
            args = [*container.get("command", []), *container.get("args", [])]
            for i, arg in enumerate(args):
                flag, _, value = arg.partition("=")
                if flag in ("--auth", "--no-auth", "--no_auth", "--disable-auth", "--disable_auth"):
                    following = args[i + 1] if i + 1 < len(args) and not value and flag == "--auth" else ""
                    found.append((where, flag, value or following or "on"))
    return found


def _turned_off(switches: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [
        (w, n, v) for w, n, v in switches if v.strip().lower() in OFF or n.lstrip("-").startswith(("no", "disable"))
    ]


def test_no_overlay_turns_authentication_off(rendered):
    """TRANSFORMER_AUTH and FEEDBACK_AUTH (default true) turn token checks off for a test bench
    only: no rendered overlay, nor the batch run, sets one (or an --auth flag) to false."""
    objects = rendered[1] + render_batch()
    assert _turned_off(_auth_switches(objects)) == []
    # The check sees each way of turning it off.
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"TRANSFORMER_AUTH": "False"}}
    (feedback,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "feedback"]
    pod = feedback["spec"]["template"]["spec"]
    for change in (
        {"env": [{"name": "FEEDBACK_AUTH", "value": "0"}]},
        {"args": ["--auth=off"]},
        {"args": ["--no-auth"]},
    ):
        planted = {
            **feedback,
            "spec": {"template": {"spec": {**pod, "containers": [{**pod["containers"][0], **change}]}}},
        }
        assert _turned_off(_auth_switches([planted])), change
    assert _turned_off(_auth_switches([config]))


def test_the_services_check_tokens_of_the_identity_provider_and_of_the_cluster(rendered):
    """The settings the transformer and the feedback service check tokens with."""
    _, objects = rendered
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "transformer-config")
    idp = {
        "ISSUER": "https://idp.example.com/realms/crm",
        "AUDIENCE": "case-classifier",
        "JWKS_URL": "https://idp.example.com/realms/crm/protocol/openid-connect/certs",
        "ROLES_CLAIM": "realm_access.roles",
    }
    assert {k: config["data"][f"TRANSFORMER_AUTH_{k}"] for k in idp} == idp
    (feedback,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "feedback"]
    env = {e["name"]: e["value"] for e in feedback["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {k: env[f"FEEDBACK_AUTH_{k}"] for k in idp} == idp
    assert env["FEEDBACK_AUTH_SERVICE_ISSUER"] == "https://kubernetes.default.svc.cluster.local"
    assert env["FEEDBACK_AUTH_SERVICE_AUDIENCE"] == "case-feedback"
    assert env["FEEDBACK_AUTH_SERVICE_JWKS_URL"] == "https://kubernetes.default.svc/openid/v1/jwks"
    assert env["FEEDBACK_AUTH_SERVICE_ACCOUNTS"].split(",") == [
        "system:serviceaccount:case-classifier:case-transformer",
        "system:serviceaccount:case-classifier:case-batch",
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
