"""The Dockerfiles: lint clean, non-root, and their install steps replayed for real.

There is no Docker engine here, so the test runs the very script every Dockerfile's build stage
runs (docker/install.sh) into clean virtualenvs, with the model wheel from a real pypiserver, then
starts the images' entrypoints from outside the source tree and classifies a case through them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dev.processes import LOOPBACK, Service, python_module, start_on_ports
from dev.stack import DEV_JWKS
from tests.conftest import ROOT
from tests.support.auth import bearer, write_token

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package_index")]
#: Image -> (what docker/install.sh installs, the entrypoint module).
IMAGES = {
    "predictor": ("predictor", "predictor"),
    "transformer": ("transformer", "transformer"),
    "language": ("case_language[service]", "case_language"),
    "feedback": ("case_feedback[service]", "case_feedback"),
    "batch": ("case_batch", "case_batch"),
    "retrain": ("case_batch[retrain]", "case_signing.model_cli"),
}
#: Where the retraining image keeps the production wheel's file (Dockerfile.retrain, KEEP_MODEL_WHEEL).
CHAMPION = "champion"
#: Where it keeps the anchor's, the first approved model of the line (KEEP_ANCHOR_WHEEL).
ANCHOR = "anchor"


def _dockerfile(name: str) -> str:
    return (ROOT / f"Dockerfile.{name}").read_text()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_hadolint_passes(name):
    hadolint = ROOT / ".venv" / "bin" / "hadolint"
    result = subprocess.run([str(hadolint), str(ROOT / f"Dockerfile.{name}")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_dockerfile_shape(name, reliability):
    text = _dockerfile(name)
    assert re.search(r"^ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}$", text, re.M), "base not pinned by digest"
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "not multi-stage"
    assert re.search(r"^USER 10001:10001$", text, re.M), "no numeric non-root user"
    deployable, module = IMAGES[name]
    assert f'ENTRYPOINT ["python", "-m", "{module}"]' in text
    assert "/opt/venv" in text
    assert "--no-cache-dir" not in text  # pip's flags live in docker/install.sh, one place
    assert f'sh docker/install.sh "{deployable}"' in text
    assert "--mount=type=secret,id=netrc" in text
    assert 'io.case-classifier.model-version="${MODEL_VERSION}"' in text
    assert not re.search(r"(?i)(password|token|secret)\s*=", text.replace("type=secret", "")), "credential in file"
    if name == "retrain":
        # The anchor is pinned and verified like the champion: by the same script, from build
        # arguments (a version and its hash), into a directory the final stage copies.
        for arg in ("ANCHOR_VERSION", "ANCHOR_WHEEL_SHA256"):
            assert re.search(rf'^ARG {arg}=""$', text, re.M), arg
            assert f'{arg}="${{{arg}}}"' in text, arg
        for kept, path in (("KEEP_MODEL_WHEEL", "/opt/champion"), ("KEEP_ANCHOR_WHEEL", "/opt/anchor")):
            assert f"{kept}={path} " in text
            assert f"COPY --from=build {path} {path}" in text
    reliability.record(
        "Artifact and images",
        f"Dockerfile.{name}",
        1,
        "numeric non-root USER, credentials only as a build secret, pinned installs",
    )


def _build_args(index_url: str, image: str, venv: Path, **overrides: str) -> dict[str, str]:
    """The environment the Dockerfiles give docker/install.sh: the wheel's hash read from the index
    by the release pipeline's own script, the release's public key as text, the image's lock."""
    sha256 = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "wheel_hash.py"), index_url, "1.0.0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {
        **os.environ,
        "VENV": str(venv),
        "MODEL_VERSION": "1.0.0",
        "MODEL_INDEX_URL": index_url,
        "MODEL_WHEEL_SHA256": sha256,
        "MODEL_SIGNING_PUBLIC_KEY": Path(os.environ["MODEL_SIGNING_PUBLIC_KEY"]).read_text(),
        "LOCK": image,
        **overrides,
    }
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session")
def installed(published_model, tmp_path_factory) -> dict[str, str]:
    """One clean virtualenv per image, built by docker/install.sh exactly as in the images. Session
    scope: the worker interleaves this module with another of its group, and a module fixture
    would be built again after each switch (it takes minutes)."""
    venvs = {}
    for image, (deployable, _) in sorted(IMAGES.items()):
        venv = tmp_path_factory.mktemp(f"image-{image}") / "venv"
        env = _build_args(published_model, image, venv)
        if image == "retrain":  # no anchor named: the first image of a line, the champion is the anchor
            env["KEEP_MODEL_WHEEL"] = str(venv.parent / CHAMPION)
            env["KEEP_ANCHOR_WHEEL"] = str(venv.parent / ANCHOR)
        subprocess.run(["sh", str(ROOT / "docker" / "install.sh"), deployable], check=True, env=env, timeout=900)
        venvs[image] = str(venv / "bin" / "python")
    return venvs


def _refused_build(index_url: str, venv: Path, **overrides: str) -> str:
    """Replay the predictor image's install with a changed build argument; it must fail, leaving
    no model package installed. Returns what it printed."""
    env = _build_args(index_url, "predictor", venv, **overrides)
    install = ["sh", str(ROOT / "docker" / "install.sh"), "predictor"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode != 0
    assert not list(venv.glob("lib/python3*/site-packages/case_model"))
    return result.stderr


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        ("the index serves a wheel of another hash", "THESE PACKAGES DO NOT MATCH THE HASHES"),
        ("the wheel is not signed by the release key", "refused: "),
    ],
)
def test_the_image_build_refuses_a_wheel_it_cannot_trust(published_model, tmp_path, reliability, fault, refusal):
    from case_signing import generate_key_pair

    if "hash" in fault:
        overrides = {"MODEL_WHEEL_SHA256": "0" * 64}
    else:
        overrides = {"MODEL_SIGNING_PUBLIC_KEY": generate_key_pair(tmp_path / "keys", "other")[1].read_text()}
    assert refusal in _refused_build(published_model, tmp_path / "venv", **overrides)
    reliability.record("Artifact and images", f"image build: {fault}", 1, "build fails; the wheel is not installed")


@pytest.fixture(scope="module")
def anchor_index(model_wheel, trained, tmp_path_factory):
    """A read-only index serving the release (1.0.0, the champion), an earlier release 0.9.0 (the
    anchor, signed by the release key) and a 0.8.0 signed by another key; its simple-index URL."""
    from case_model.training.wheelbuild import build_wheel, write_artifact
    from case_signing import generate_key_pair

    root = tmp_path_factory.mktemp("anchor-index")
    packages = root / "packages"
    packages.mkdir()
    (packages / model_wheel.name).write_bytes(model_wheel.read_bytes())
    other = generate_key_pair(root / "keys", "other")[0]
    for version, key in (("0.9.0", Path(os.environ["MODEL_SIGNING_KEY"])), ("0.8.0", other)):
        artifact = root / f"artifact-{version}"
        write_artifact(trained, version, artifact, {"synthetic_data": True}, key)
        build_wheel(artifact, version, packages, key)

    def service(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "pypiserver", "run", "-i", LOOPBACK, "-p", str(ports[0]), "-a", ".", "-P", ".", str(packages)
        )
        return Service("anchor-index", argv, f"http://{LOOPBACK}:{ports[0]}/health")

    running, (port,) = start_on_ports(service, 1, root / "logs")
    try:
        yield f"http://{LOOPBACK}:{port}/simple/"
    finally:
        running.stop()


def _anchor_install(index_url: str, work: Path, version: str, sha256: str | None = None) -> subprocess.CompletedProcess:
    """The retraining image's install with the anchor named by ``version`` and its hash."""
    if sha256 is None:
        sha256 = subprocess.run(
            [sys.executable, str(ROOT / "docker" / "wheel_hash.py"), index_url, version],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    env = _build_args(index_url, "retrain", work / "venv")
    env.update(
        KEEP_MODEL_WHEEL=str(work / CHAMPION),
        KEEP_ANCHOR_WHEEL=str(work / ANCHOR),
        ANCHOR_VERSION=version,
        ANCHOR_WHEEL_SHA256=sha256,
    )
    install = ["sh", str(ROOT / "docker" / "install.sh"), "case_batch[retrain]"]
    return subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)


def test_the_retraining_image_keeps_the_anchor_it_names_verified(anchor_index, tmp_path, reliability):
    """An anchor named by version and hash is fetched by that hash, checked with the release key
    and kept beside the champion, not installed; the champion stays the installed package."""
    result = _anchor_install(anchor_index, tmp_path, "0.9.0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [w.name for w in (tmp_path / ANCHOR).iterdir()] == ["case_model-0.9.0-py3-none-any.whl"]
    assert [w.name for w in (tmp_path / CHAMPION).iterdir()] == ["case_model-1.0.0-py3-none-any.whl"]
    version = subprocess.run(
        [
            str(tmp_path / "venv" / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('case-model'))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
    )
    assert version.stdout.strip() == "1.0.0"
    reliability.record(
        "Artifact and images", "retraining image: an anchor named by version and hash", 1, "kept, verified"
    )


@pytest.mark.parametrize(
    ("fault", "version", "sha256", "refusal"),
    [
        ("the anchor of another hash", "0.9.0", "0" * 64, "THESE PACKAGES DO NOT MATCH THE HASHES"),
        ("an anchor named without its hash", "0.9.0", "", "ANCHOR_WHEEL_SHA256 is required"),
        ("an anchor not signed by the release key", "0.8.0", None, "refused: "),
    ],
)
def test_the_retraining_image_build_refuses_an_anchor_it_cannot_trust(
    anchor_index, tmp_path, reliability, fault, version, sha256, refusal
):
    result = _anchor_install(anchor_index, tmp_path, version, sha256)
    assert result.returncode != 0
    assert refusal in result.stderr, result.stderr[-3000:]
    assert not list((tmp_path / "venv").glob("lib/python3*/site-packages/case_model"))
    reliability.record("Artifact and images", f"retraining image build: {fault}", 1, "build fails")


def test_the_release_key_is_fixed_in_the_image(installed, tmp_path, reliability):
    """The build writes the release key into the image; a key named at run time (a swapped
    ConfigMap, an environment variable, --public-key) is refused, never used."""
    from case_signing import generate_key_pair

    python = Path(installed["predictor"])
    fixed = python.parents[1] / "share" / "case-classifier" / "model-signing.pub"
    assert fixed.read_text().strip() == Path(_public_key()).read_text().strip()
    assert oct(fixed.stat().st_mode & 0o777) == "0o444"
    other = generate_key_pair(tmp_path / "keys", "other")[1]
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    check = [str(python), "-m", "case_signing", "verify-installed"]
    # No key named: the image's own.
    assert subprocess.run(check, env=bare, capture_output=True, text=True).returncode == 0
    for how, argv, env in [
        ("--public-key", [*check, "--public-key", str(other)], bare),
        ("MODEL_SIGNING_PUBLIC_KEY", check, {**bare, "MODEL_SIGNING_PUBLIC_KEY": str(other)}),
        ("a service's start", [str(python), "-m", "predictor"], {**bare, "MODEL_SIGNING_PUBLIC_KEY": str(other)}),
    ]:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 3, (how, result.stdout, result.stderr)
        assert "the release key is fixed in this image" in result.stderr + result.stdout, how
    reliability.record(
        "Artifact and images", "another public key named at run time (flag, environment)", 3, "refused, exit 3"
    )


def test_entrypoints_serve_from_the_replayed_installs(installed, tmp_path):
    # Filled in as each service starts on ports it holds (again on others if one was taken
    # meanwhile); the transformer, started last, is pointed at the ports the others got.
    ports: dict[str, int] = {}
    bare = {"PYTHONPATH": "", "HOME": str(tmp_path), "MODEL_SIGNING_PUBLIC_KEY": os.environ["MODEL_SIGNING_PUBLIC_KEY"]}
    # Authentication on, as everywhere: the development issuer's keys, a service token for the log.
    service_token = tmp_path / "service-token"
    write_token(service_token, ["service"], "image-transformer", 3600)
    url = f"http://{LOOPBACK}"
    services = [  # (ports it binds, its definition given them)
        (
            ("lang",),
            lambda: Service(
                "image-language",
                [installed["language"], "-m", "case_language", "--port", str(ports["lang"])],
                f"{url}:{ports['lang']}/readyz",
                bare,
            ),
        ),
        (
            ("feedback",),
            lambda: Service(
                "image-feedback",
                [
                    installed["feedback"],
                    "-m",
                    "case_feedback",
                    "--port",
                    str(ports["feedback"]),
                    f"--store-url=sqlite:///{tmp_path / 'feedback.sqlite'}",
                    "--quality-cache-seconds=0",
                    f"--auth-jwks-url={DEV_JWKS}",
                ],
                f"{url}:{ports['feedback']}/readyz",
                bare,
            ),
        ),
        (
            ("predictor", "predictor_grpc"),
            lambda: Service(
                "image-predictor",
                [
                    installed["predictor"],
                    "-m",
                    "predictor",
                    f"--http_port={ports['predictor']}",
                    f"--grpc_port={ports['predictor_grpc']}",
                ],
                f"{url}:{ports['predictor']}/v2/models/case-classifier/ready",
                bare,
            ),
        ),
        (
            ("transformer", "transformer_grpc"),
            lambda: Service(
                "image-transformer",
                [
                    installed["transformer"],
                    "-m",
                    "transformer",
                    f"--http_port={ports['transformer']}",
                    f"--grpc_port={ports['transformer_grpc']}",
                    f"--predictor_host={LOOPBACK}:{ports['predictor_grpc']}",
                    "--predictor_protocol=grpc-v2",
                    f"--language-url={url}:{ports['lang']}/v1/detect",
                    f"--feedback-url={url}:{ports['feedback']}/v1/predictions",
                    f"--feedback-token-file={service_token}",
                    f"--auth-jwks-url={DEV_JWKS}",
                ],
                f"{url}:{ports['transformer']}/v2/models/case-classifier/ready",
                bare,
            ),
        ),
    ]
    running = []
    cwd = os.getcwd()
    os.chdir(tmp_path)  # nothing of the source tree on the path: only what the install put there
    try:
        for names, define in services:

            def service(chosen: tuple[int, ...], names: tuple[str, ...] = names, define=define) -> Service:
                ports.update(zip(names, chosen, strict=True))
                return define()

            running.append(start_on_ports(service, len(names), tmp_path / "logs")[0])
    except BaseException:  # the ones already up must not outlive a failed start
        for process in reversed(running):
            process.stop()
        raise
    finally:
        os.chdir(cwd)
    try:
        body = {
            "id": "img-1",
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": [1],
                    "data": ["The battery of my laptop does not charge any more."],
                },
                {"name": "case_id", "datatype": "BYTES", "shape": [1], "data": ["IMG-1"]},
            ],
        }
        infer = f"{url}:{ports['transformer']}/v2/models/case-classifier/infer"
        assert httpx.post(infer, json=body, timeout=10).status_code == 401  # authentication is on
        response = httpx.post(infer, json=body, timeout=10, headers=bearer("crm"))
        assert response.status_code == 200, response.text
        outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
        assert outputs["label"] == ["battery_power"]
        assert outputs["language"] == ["en"]
        assert response.json()["model_version"] == "1.0.0"
        # The feedback image takes the transformer's prediction log and an agent's correction,
        # knowing the labels from the installed model wheel.
        correction = {"corrections": [{"case_id": "IMG-1", "label": "display", "agent_id": "a-1"}]}
        feedback = f"{url}:{ports['feedback']}"
        for _ in range(40):  # a reader may ask 5 times a second (the default limit)
            quality = httpx.get(f"{feedback}/v1/quality", headers=bearer("reader")).json()["model_versions"]
            if quality:
                break
            time.sleep(0.3)
        answer = httpx.post(f"{feedback}/v1/corrections", json=correction, timeout=10, headers=bearer("crm"))
        assert answer.json() == {"accepted": 1, "unknown_case_ids": []}, answer.text
        quality = httpx.get(f"{feedback}/v1/quality", headers=bearer("reader")).json()["model_versions"]
        assert [(q["model_version"], q["predictions"], q["corrected"]) for q in quality] == [("1.0.0", 1, 1)]
    finally:
        for process in reversed(running):
            process.stop()


def test_batch_entrypoint_from_the_replayed_install(installed, tmp_path):
    result = subprocess.run(
        [installed["batch"], "-m", "case_batch", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODEL_SIGNING_PUBLIC_KEY": _public_key()},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--address" in result.stdout


def test_retraining_runs_the_cronjobs_command_from_the_replayed_install(installed, demo_cases, tmp_path):
    """The CronJob's train step, its flags as in manifests/base/retrain.yaml with the paths moved
    here: the installed wheel trains, is the champion, and the next version is built; twine is there
    for the upload step."""
    from case_feedback.service.store import Store

    cases, _, validation = demo_cases
    cases.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    store_url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    Store(store_url).migrate()
    (tmp_path / "url").write_text(store_url)
    champion = Path(installed["retrain"]).parents[2] / CHAMPION
    assert [w.name for w in champion.iterdir()] == ["case_model-1.0.0-py3-none-any.whl"]
    # No anchor named at build time: the champion's own file, the first model of a new line.
    anchor = Path(installed["retrain"]).parents[2] / ANCHOR
    assert [w.read_bytes() for w in anchor.iterdir()] == [w.read_bytes() for w in champion.iterdir()]
    argv = [
        installed["retrain"],
        "-m",
        "case_signing.model_cli",
        "train",
        f"--data={tmp_path / 'cases.parquet'}",
        f"--validation={tmp_path / 'validation.parquet'}",
        f"--feedback-url-file={tmp_path / 'url'}",
        f"--champion={champion}",
        f"--anchor={anchor}",
        f"--out={tmp_path / 'dist'}",
        f"--built-file={tmp_path / 'dist' / '.model-built'}",
        f"--report={tmp_path / 'report'}",
        f"--signing-key={os.environ['MODEL_SIGNING_KEY']}",
    ]
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODEL_SIGNING_PUBLIC_KEY": _public_key()}
    result = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=bare, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "champion 1.0.0: macro-F1" in result.stdout
    assert "anchor 1.0.0: macro-F1" in result.stdout
    built = Path((tmp_path / "dist" / ".model-built").read_text().strip())
    assert built.name == "case_model-1.1.0-py3-none-any.whl"
    twine = subprocess.run([installed["retrain"], "-m", "twine", "--version"], capture_output=True, env=bare)
    assert twine.returncode == 0, twine.stderr


def _public_key() -> str:
    return os.environ["MODEL_SIGNING_PUBLIC_KEY"]


#: What each image must not carry: other services, and KServe where the service does not serve with it.
NOT_IN = {
    "predictor": [
        "transformer",
        "case_language",
        "case_feedback",
        "case_batch",
        "case_rollout",
        "dev",
        "tornado",
        "ray",
    ],
    # The transformer carries the prediction log's emitter, never the feedback service's store.
    "transformer": ["predictor", "case_batch", "case_rollout", "dev", "tornado", "ray", "sqlalchemy", "alembic"],
    "language": ["kserve", "transformer", "predictor", "case_feedback", "case_batch", "case_rollout", "dev", "ray"],
    "feedback": ["kserve", "transformer", "predictor", "case_language", "case_batch", "case_rollout", "dev", "ray"],
    "batch": ["kserve", "transformer", "predictor", "case_rollout", "dev", "tornado", "sqlalchemy"],
    "retrain": ["kserve", "transformer", "predictor", "case_rollout", "dev", "tornado"],
}


@pytest.mark.parametrize("image", sorted(NOT_IN))
def test_each_image_carries_only_its_service(installed, image, tmp_path, reliability):
    probe = "import importlib.util, sys; print(*[m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    result = subprocess.run(
        [installed[image], "-c", probe, *NOT_IN[image], IMAGES[image][1]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
    )
    assert result.stdout.split() == [IMAGES[image][1]]
    reliability.record("Artifact and images", f"{image} image contents", 1, "its own service only; no other's code")
