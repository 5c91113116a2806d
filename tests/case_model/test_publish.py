"""The wheel goes through a real package index: upload with twine, install by version, predict."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from case_model.training.wheelbuild import build_wheel, write_artifact
from case_model.training.wheelcheck import check_wheel
from tests.conftest import SIGNING_KEY

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package_index")]
ROOT = Path(__file__).resolve().parents[2]
# What the wheel needs at run time (its own declared dependencies), pinned like the images pin it.
RUNTIME = tomllib.loads((ROOT / "case_model" / "pyproject.toml").read_text())["project"]["dependencies"]


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def _upload(wheel: Path, url: str, credentials: tuple[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "TWINE_USERNAME": credentials[0], "TWINE_PASSWORD": credentials[1]}
    return _run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--repository-url", f"{url}/", str(wheel)],
        env=env,
    )


def _install(python: Path, index: str, requirement: str) -> None:
    """Install ``requirement`` by version from the test index, as the Dockerfiles do."""
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--force-reinstall",
            "--index-url",
            f"{index}/simple/",
            requirement,
        ]
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A virtualenv with only the wheel's pinned runtime dependencies from the package registry."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), *RUNTIME])
    return python


def test_wheel_passes_the_release_check(model_wheel):
    assert check_wheel(model_wheel) == []


def test_upload_install_by_version_and_predict(published_model, package_index, fresh_venv):
    """published_model uploads the session's 1.0.0 wheel with twine (see conftest)."""
    _install(fresh_venv, package_index, "case-model==1.0.0")
    script = (
        "import case_model; m = case_model.load(); "
        "p = m.predict([case_model.clean_text('The battery of my laptop does not charge any more.')]); "
        "print(m.version, p.labels[0])"
    )
    out = _run([str(fresh_venv), "-c", script], cwd="/").stdout.split()
    assert out == ["1.0.0", "battery_power"]


def test_upload_without_credentials_is_refused(model_wheel, package_index):
    with pytest.raises(subprocess.CalledProcessError) as failure:
        _upload(model_wheel, package_index, ("nobody", "wrong"))
    assert "403" in failure.value.stdout + failure.value.stderr or "401" in failure.value.stdout + failure.value.stderr


def test_the_index_refuses_to_overwrite_a_published_version(
    published_model, model_wheel, package_index, index_credentials, tmp_path
):
    """A version, once published, is what every image of it installs: uploading 1.0.0 again, even
    byte for byte, is refused (409), and the index still serves the first upload's bytes. The local
    index (make index, and this suite's) runs pypiserver without --overwrite, as a release index must."""
    import hashlib

    import httpx

    credentials = index_credentials
    before = httpx.get(f"{package_index}/packages/{model_wheel.name}", follow_redirects=True, auth=credentials)
    changed = tmp_path / model_wheel.name
    changed.write_bytes(model_wheel.read_bytes() + b"\0")  # other bytes under the same name and version
    for wheel in (model_wheel, changed):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            _upload(wheel, package_index, credentials)
        assert "Bad Request" in refused.value.stdout  # pypiserver answers twine 400, as pypi.org does
        # Any other client: 409, saying why.
        answer = httpx.post(
            f"{package_index}/",
            data={":action": "file_upload", "name": "case-model", "version": "1.0.0"},
            files={"content": (wheel.name, wheel.read_bytes())},
            auth=credentials,
        )
        assert answer.status_code == 409
        assert "already exists" in answer.text
    after = httpx.get(f"{package_index}/packages/{model_wheel.name}", follow_redirects=True, auth=credentials)
    assert hashlib.sha256(after.content).digest() == hashlib.sha256(before.content).digest()
    assert after.content == model_wheel.read_bytes()


def test_wheel_whose_version_differs_from_its_metadata_is_refused(
    trained, tmp_path, package_index, index_credentials, fresh_venv, reliability
):
    artifact = tmp_path / "artifact"
    write_artifact(trained, "0.9.0", artifact, {}, SIGNING_KEY)  # metadata claims 0.9.0 ...
    wheel = build_wheel(artifact, "2.0.0", tmp_path / "dist", SIGNING_KEY)  # ... the wheel is 2.0.0
    assert any("model metadata says version 0.9.0" in problem for problem in check_wheel(wheel))
    _upload(wheel, package_index, index_credentials)
    _install(fresh_venv, package_index, "case-model==2.0.0")
    result = subprocess.run(
        [str(fresh_venv), "-c", "import case_model; case_model.load()"], capture_output=True, text=True, cwd="/"
    )
    assert result.returncode != 0
    assert "refusing a mislabelled wheel" in result.stderr
    reliability.record(
        "Artifact and images",
        "wheel whose version differs from its model metadata",
        1,
        "release check flags it; install refuses to load it",
    )


def test_make_publish_uploads_exactly_the_wheel_just_built(trained, tmp_path, package_index, index_credentials):
    """1.10.0 sorts before 1.9.0 as text; the build records which one it made, and that is the
    one uploaded, without training anything."""
    import httpx

    dist = tmp_path / "dist"
    for version in ("1.10.0", "1.9.0"):  # 1.9.0 last: a hotfix built after 1.10.0
        artifact = tmp_path / f"artifact-{version}"
        write_artifact(trained, version, artifact, {}, SIGNING_KEY)
        wheel = build_wheel(artifact, version, dist, SIGNING_KEY)
    (dist / ".model-built").write_text(f"{wheel}\n")
    env = {
        **os.environ,
        "MODEL_INDEX_URL": f"{package_index}/",
        "TWINE_USERNAME": index_credentials[0],
        "TWINE_PASSWORD": index_credentials[1],
    }
    result = subprocess.run(
        ["make", "-s", "publish", f"DIST={dist}"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listing = httpx.get(f"{package_index}/simple/case-model/", follow_redirects=True).text
    assert "case_model-1.9.0-py3-none-any.whl" in listing
    assert "case_model-1.10.0" not in listing
    assert "train" not in result.stdout


def test_make_publish_without_a_build_says_so(tmp_path):
    result = subprocess.run(["make", "-s", "publish", f"DIST={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "no wheel recorded" in result.stderr


def _wheel_hash_module():
    """docker/wheel_hash.py, the release pipeline's standard-library script, as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("wheel_hash", ROOT / "docker" / "wheel_hash.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ACCEPTED = [
    "https://pypi.internal.example/simple/",
    "http://127.0.0.1:8090/",
    "http://localhost:8090/",
    "http://[::1]:8090/",
]
REFUSED = [
    "http://localhost.evil.example/",
    "http://127.0.0.1.evil.example/",
    "http://localhost@evil.example/",
    "http://10.0.0.1/",
    "http://pypi.internal.example/simple/",
    "ftp://127.0.0.1/",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_the_index_url_check_accepts_https_and_loopback(url):
    assert _wheel_hash_module().secure_index_url(url) == url


@pytest.mark.parametrize("url", REFUSED)
def test_the_index_url_check_parses_the_host(url):
    """A prefix test took http://localhost.evil.example for loopback."""
    with pytest.raises(ValueError, match=r"reached over HTTPS \(plain HTTP on loopback only\)"):
        _wheel_hash_module().secure_index_url(url)
    result = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "wheel_hash.py"), url, "1.0.0"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "plain HTTP on loopback only" in result.stderr


@pytest.mark.parametrize("url", ["http://localhost.evil.example/", "http://10.0.0.1/"])
def test_make_publish_refuses_a_plain_http_index_off_loopback(url, tmp_path):
    """Refused before twine runs: nothing is sent, no credentials leave over plain HTTP."""
    wheel = tmp_path / "case_model-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"never uploaded")
    (tmp_path / ".model-built").write_text(f"{wheel}\n")
    env = {**os.environ, "MODEL_INDEX_URL": url, "TWINE_USERNAME": "u", "TWINE_PASSWORD": "p"}
    result = subprocess.run(
        ["make", "-s", "publish", f"DIST={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f"error: {url}: the model index is reached over HTTPS (plain HTTP on loopback only)" in result.stderr
    assert "Uploading" not in result.stdout + result.stderr
