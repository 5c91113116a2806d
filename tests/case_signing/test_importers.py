"""Every importer of ``case_model`` checks it first: the retraining entrypoint and the batch job's
Ray workers, as the services do (tests/case_signing/test_signature.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.case_signing.planted import plant
from tests.conftest import ROOT
from tests.support.coverage_hook import without_coverage


def _env(pythonpath: str) -> dict[str, str]:
    environment = without_coverage(os.environ)
    environment["PYTHONPATH"] = pythonpath
    return environment


def _site(wheel: Path, site: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    return site


@pytest.fixture
def forged_site(model_wheel, tmp_path) -> tuple[Path, Path]:
    """The release wheel with code prepended to ``case_model/__init__.py`` that would leave a
    marker, installed into a directory of its own; returns (that directory, the marker)."""
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(model_wheel) as archive:
        init = archive.read("case_model/__init__.py")
    payload = f"open({str(marker)!r}, 'w').close()\n".encode()
    forged = plant(model_wheel, tmp_path / "forged" / model_wheel.name, {"case_model/__init__.py": payload + init})
    return _site(forged, tmp_path / "site"), marker


def test_the_retraining_entrypoint_refuses_a_forged_package(forged_site, model_wheel, tmp_path, reliability):
    """``python -m case_signing.model_cli`` is ``case-model`` (train, check-wheel, ...) behind the check."""
    site, marker = forged_site
    argv = [sys.executable, "-m", "case_signing.model_cli", "check-wheel", str(model_wheel)]
    refused = subprocess.run(argv, capture_output=True, text=True, env=_env(f"{site}:{ROOT}"), cwd=tmp_path)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    reason = json.loads(refused.stderr.strip().splitlines()[-1])
    assert reason["message"] == "model refused; not starting"
    assert reason["reason"].endswith("changed since signing: '__init__.py'")
    assert not marker.exists()
    genuine = _site(model_wheel, tmp_path / "genuine")
    ok = subprocess.run(argv, capture_output=True, text=True, env=_env(f"{genuine}:{ROOT}"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{model_wheel}: ok" in ok.stdout
    reliability.record(
        "Artifact and images",
        "retraining entrypoint started on a forged model package",
        1,
        "exits 3 before importing it, saying why; the code never ran",
    )


#: A batch driver whose own model package is the checkout's, and whose Ray workers find the
#: package of ``sys.argv[1]`` first (Ray starts its workers with the driver's environment, as a
#: cluster's worker pods have images of their own). A task that imports the model says where from.
DRIVER = """
import os, sys
from case_batch.pipeline import start_ray
os.environ["PYTHONPATH"] = sys.argv[1]
start_ray(None)
import ray

@ray.remote(max_retries=0)
def where():
    import case_model
    return case_model.__file__

try:
    print("imported:", ray.get(where.remote(), timeout=120))
except Exception as error:
    print("failed:", type(error).__name__, error)
ray.shutdown()
"""


@pytest.fixture
def ray_tmpdir() -> Iterator[Path]:
    """Ray's session directory for one driver (the workers' logs), short: Ray puts sockets there."""
    directory = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_workers_refuse_a_forged_package_before_any_task(forged_site, ray_tmpdir, tmp_path, reliability):
    site, marker = forged_site
    driver = [sys.executable, "-c", DRIVER, f"{site}:{ROOT}"]
    env = {**_env(str(ROOT)), "RAY_TMPDIR": str(ray_tmpdir)}
    result = subprocess.run(driver, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "failed:" in result.stdout, result.stdout + result.stderr[-3000:]
    assert "imported:" not in result.stdout
    # The worker said why it ran nothing, in its own log (or, depending on Ray, the driver's).
    said = result.stderr + "".join(p.read_text(errors="replace") for p in ray_tmpdir.rglob("worker-*.err"))
    refusals = [line for line in said.splitlines() if "model refused; this Ray worker runs nothing" in line]
    assert refusals, said[-3000:]
    assert refusals[0].endswith("changed since signing: '__init__.py'\"}"), refusals[0]
    assert not marker.exists()
    genuine = subprocess.run(
        [sys.executable, "-c", DRIVER, str(ROOT)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert "imported:" in genuine.stdout, genuine.stdout + genuine.stderr[-3000:]
    reliability.record(
        "Artifact and images",
        "Ray workers of the batch job find a forged model package",
        1,
        "each worker refuses it as it starts; no task runs, the code never ran",
    )
