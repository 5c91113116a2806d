"""The images, built from the Dockerfiles a cluster uses and run as their pods run them.

Docker where an engine runs, podman otherwise (dev/images.py). Each container runs as the
manifests say: user 10001, read-only root filesystem, every capability dropped, no privilege
escalation, a small writable /tmp, and the args and environment of the rendered prod overlay
(the transformer's ConfigMap, the feedback service's store URL as a mounted file). Only what a
pod gets from the cluster is replaced: each service's port and its neighbours' addresses (all on
loopback here, where the cluster has DNS names), and KServe's --predictor_host. Then a mixed
batch is classified through the four containers, and each is stopped with SIGTERM and must drain
and exit 0.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER
from dev.images import Engine, build_all, find_engine, size_mb, tag
from dev.processes import LOOPBACK, PORT_ATTEMPTS, bind_failed, candidate_ports
from dev.stack import DEV_JWKS
from tests.manifests.test_manifests import render
from tests.support.auth import bearer, write_token
from tests.support.v2 import infer, infer_body, outputs
from tests.transformer.test_contract import AUTO, BATTERY, GERMAN

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("containers")]
SERVICES = ("language", "feedback", "predictor", "transformer")
ENGINE = find_engine()


def _tmp_size(pod: dict) -> str:
    """The size of the pod's /tmp volume, as a tmpfs size (128Mi -> 128m)."""
    container = pod["containers"][0]
    (mount,) = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount]
    return volume["emptyDir"]["sizeLimit"].removesuffix("Mi") + "m"


def _manifests() -> dict[str, dict]:
    """Per service: its container spec (args, env) as the prod overlay renders it, with the size
    of its /tmp volume under "tmp"."""
    objects = render("prod")
    found: dict[str, dict] = {}
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in SERVICES:
            pod = obj["spec"]["template"]["spec"]
            found[obj["metadata"]["name"]] = {**pod["containers"][0], "tmp": _tmp_size(pod)}
        if obj["kind"] == "InferenceService" and obj["metadata"]["name"] == "case-classifier-blue":
            for component in ("predictor", "transformer"):
                pod = obj["spec"][component]
                found[component] = {**pod["containers"][0], "tmp": _tmp_size(pod)}
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "transformer-config":
            found["transformer-config"] = obj["data"]
    return found


def _env(container: dict) -> dict[str, str]:
    """A container's literal environment, as its manifest sets it."""
    return {e["name"]: e["value"] for e in container.get("env", [])}


@pytest.fixture(scope="module")
def images(model_wheel, reliability) -> tuple[Engine, str]:
    if ENGINE is None:
        pytest.skip("neither docker (an engine) nor podman with runc can run a container here: make tools")
    seconds = build_all(SERVICES, ENGINE, wheel=model_wheel)
    for image, took in seconds.items():
        size = size_mb(ENGINE, tag(image, "1.0.0"))
        print(f"{image}: {size:.0f} MB, built in {took:.0f} s")
    reliability.record("Artifact and images", f"images built with {ENGINE.name}", len(seconds), "built")
    return ENGINE, "1.0.0"


class Containers:
    """Containers started for one test run, removed at the end."""

    def __init__(self, engine: Engine, work: Path) -> None:
        self.engine, self.work, self.names, self.cold_start = engine, work, {}, {}
        self.run_id = uuid.uuid4().hex[:8]

    def start(
        self,
        service: str,
        image: str,
        args: Callable[[int], list[str]],
        env: dict[str, str],
        mounts: list[str],
        ready: Callable[[int], str],
        tmp: str,
    ) -> int:
        """Run ``image`` with ``args(port)`` until ``ready(port)`` answers; the port it holds. A
        container that exits because its port was taken meanwhile is run again on another."""
        for attempt in range(PORT_ATTEMPTS):
            (port,) = candidate_ports(1)
            name = f"case-{service}-{self.run_id}-{attempt}"
            argv = self.engine.command("run", "-d", "--name", name, "--network", "host", *self.engine.limits())
            argv += ["--user", "10001:10001", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
            argv += ["--tmpfs", f"/tmp:rw,size={tmp},mode=1777"]  # the pod's emptyDir, at its size limit
            for key, value in env.items():
                argv += ["-e", f"{key}={value}"]
            for mount in mounts:
                argv += ["-v", mount]
            started = time.monotonic()
            subprocess.run([*argv, image, *args(port)], check=True, capture_output=True)
            self.names[service] = name
            deadline = started + 120
            while True:
                try:
                    if httpx.get(ready(port), timeout=2).status_code == 200:
                        self.cold_start[service] = time.monotonic() - started
                        return port
                except httpx.TransportError:
                    pass
                if not self.running(service):
                    break
                assert time.monotonic() < deadline, self.logs(service)
                time.sleep(0.2)
            logs = self.logs(service)
            assert bind_failed(logs), logs  # exited for another reason than a taken port
            subprocess.run(self.engine.command("rm", "-f", name), capture_output=True)
        raise AssertionError(f"{service}: a port was taken on each of {PORT_ATTEMPTS} attempts")

    def running(self, service: str) -> bool:
        out = subprocess.run(
            self.engine.command("inspect", "--format", "{{.State.Running}}", self.names[service]),
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() == "true"

    def logs(self, service: str) -> str:
        out = subprocess.run(self.engine.command("logs", self.names[service]), capture_output=True, text=True)
        return (out.stdout + out.stderr)[-3000:]

    def stop(self, service: str) -> int:
        """SIGTERM, up to 30 s to drain (the pods' grace period), then the exit code."""
        name = self.names[service]
        subprocess.run(self.engine.command("stop", "-t", "30", name), check=True, capture_output=True)
        out = subprocess.run(
            self.engine.command("inspect", "--format", "{{.State.ExitCode}}", name), capture_output=True, text=True
        )
        return int(out.stdout.strip())

    def remove(self) -> None:
        for name in self.names.values():
            subprocess.run(self.engine.command("rm", "-f", name), capture_output=True)


def test_the_images_classify_as_pods_and_drain_on_sigterm(images, tmp_path, reliability):
    engine, version = images
    spec = _manifests()
    # Each service on a port it holds (again on another if one was taken meanwhile); the
    # transformer, started last, is pointed at the ports the others got.
    url: dict[str, str] = {}
    store = tmp_path / "store-url"
    store.mkdir()
    (store / "url").write_text("sqlite:////tmp/feedback.sqlite\n")
    store.chmod(0o755)
    (store / "url").chmod(0o444)
    # The identity provider's stand-in is the development issuer: its JWKS is mounted where the
    # services read it, and the prediction log's projected token is a file it signed.
    idp = tmp_path / "idp"
    idp.mkdir()
    shutil.copy(DEV_JWKS, idp / "jwks.json")
    token_dir = tmp_path / "feedback-token"
    token_dir.mkdir()
    write_token(token_dir / "token", ["service"], "system:serviceaccount:case-classifier:case-transformer", 3600)
    for path in (idp, token_dir):
        path.chmod(0o755)
        for file in path.iterdir():
            file.chmod(0o444)
    idp_mount = f"{idp}:/etc/case-classifier/idp:ro"
    trust = {
        "ISSUER": DEV_ISSUER,
        "AUDIENCE": DEV_AUDIENCE,
        "JWKS_URL": "/etc/case-classifier/idp/jwks.json",
        "ROLES_CLAIM": "roles",
    }
    containers = Containers(engine, tmp_path)
    try:
        # As KServe runs them: the InferenceService's args, then what KServe adds (--predictor_host);
        # first, because the feedback service reads the version and labels it serves.
        ready = "/v2/models/case-classifier/ready"
        predictor = containers.start(
            "predictor",
            tag("predictor", version),
            lambda p: [*spec["predictor"]["args"], f"--http_port={p}"],
            _env(spec["predictor"]),
            [],
            lambda p: f"http://{LOOPBACK}:{p}{ready}",
            spec["predictor"]["tmp"],
        )
        # As the Deployments run them; the listen address is loopback here (host networking).
        for service in ("language", "feedback"):
            container = spec[service]
            env = _env(container)
            # No signing key is mounted: each image verifies its model with the key built into it.
            mounts = [f"{store}:/run/secrets/feedback-store:ro", idp_mount] if service == "feedback" else []
            if service == "feedback":  # the stand-in issuer, no cluster issuer here
                env |= {f"FEEDBACK_AUTH_{key}": value for key, value in trust.items()}
                env["FEEDBACK_AUTH_SERVICE_ISSUER"] = ""
                env["FEEDBACK_AUTH_RATE_LIMITS"] = "service=100,reader=100"
                # The served model here (the slots' hosts are the cluster's).
                env["FEEDBACK_SERVED_MODELS"] = f"http://{LOOPBACK}:{predictor}/v2/models/case-classifier/labels"
            port = containers.start(
                service,
                tag(service, version),
                lambda p, c=container: [*c["args"], f"--host={LOOPBACK}", f"--port={p}"],
                env,
                mounts,
                lambda p: f"http://{LOOPBACK}:{p}/readyz",
                container["tmp"],
            )
            url[service] = f"http://{LOOPBACK}:{port}"
        transformer_env = {
            **spec["transformer-config"],
            **_env(spec["transformer"]),
            "TRANSFORMER_LANGUAGE_URL": f"{url['language']}/v1/detect",
            "TRANSFORMER_FEEDBACK_URL": f"{url['feedback']}/v1/predictions",
            **{f"TRANSFORMER_AUTH_{key}": value for key, value in trust.items()},
        }
        token_path = Path(transformer_env["TRANSFORMER_FEEDBACK_TOKEN_FILE"]).parent
        transformer = containers.start(
            "transformer",
            tag("transformer", version),
            lambda p: [*spec["transformer"]["args"], f"--http_port={p}", f"--predictor_host={LOOPBACK}:{predictor}"],
            transformer_env,
            [idp_mount, f"{token_dir}:{token_path}:ro"],
            lambda p: f"http://{LOOPBACK}:{p}{ready}",
            spec["transformer"]["tmp"],
        )
        url["transformer"] = f"http://{LOOPBACK}:{transformer}"

        texts = [BATTERY, AUTO, GERMAN, ""]
        response = infer(url["transformer"], infer_body(texts, [f"CT-{i}" for i in range(4)]), timeout=30)
        out = outputs(response)
        assert out["status"] == ["ok", "auto_reply", "ok", "empty"]
        assert [out["label"][0], out["label"][2]] == ["battery_power", "boot_bios"]
        assert out["language"][:3] == ["en", "unknown", "de"]
        assert response.json()["model_version"] == version
        # The prediction log reached the feedback container.
        deadline = time.monotonic() + 30
        while not httpx.get(f"{url['feedback']}/v1/quality", headers=bearer("reader")).json()["model_versions"]:
            assert time.monotonic() < deadline, containers.logs("feedback")
            time.sleep(0.2)

        exits = {service: containers.stop(service) for service in reversed(SERVICES)}
        assert exits == dict.fromkeys(reversed(SERVICES), 0), {s: containers.logs(s) for s in SERVICES}
        for service in SERVICES:
            print(f"{service}: cold start {containers.cold_start[service]:.1f} s")
    finally:
        containers.remove()
    reliability.record(
        "Artifact and images",
        "containers run as their pods (user 10001, read-only, no capabilities), stopped with SIGTERM",
        len(SERVICES),
        "a mixed batch classified through them; each drained and exited 0",
    )
