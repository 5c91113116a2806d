"""The image build refuses a wheel whose ``case_model/`` is genuinely signed but which carries a
member pip would install beside it: docker/install.sh replayed against a real pypiserver serving
the planted wheel, as tests/delivery/test_images.py replays it for a forged signature."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dev.processes import LOOPBACK, RunningService, Service, python_module, start_on_ports
from tests.case_signing.planted import plant, plants
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package_index")]
VERSION = "1.0.0"


def _index(packages: Path, logs: Path) -> tuple[RunningService, str]:
    """A pypiserver on loopback serving ``packages`` (read only: nothing is uploaded here)."""

    def service(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "pypiserver", "run", "-i", LOOPBACK, "-p", str(ports[0]), "-a", ".", "-P", ".", str(packages)
        )
        return Service("planted-index", argv, f"http://{LOOPBACK}:{ports[0]}/health")

    running, (port,) = start_on_ports(service, 1, logs)
    return running, f"http://{LOOPBACK}:{port}/simple/"


@pytest.mark.parametrize("name", sorted(plants(VERSION, Path("/m"))))
def test_the_image_build_refuses_a_planted_member(name, model_wheel, tmp_path, reliability):
    marker = tmp_path / "pwned"
    planted = plants(VERSION, marker)[name]
    packages = tmp_path / "packages"
    wheel = plant(model_wheel, packages / model_wheel.name, {planted.member: planted.content})
    running, index_url = _index(packages, tmp_path / "logs")
    venv = tmp_path / "venv"
    try:
        env = {
            **os.environ,
            "VENV": str(venv),
            "MODEL_VERSION": VERSION,
            "MODEL_INDEX_URL": index_url,
            "MODEL_WHEEL_SHA256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            "MODEL_SIGNING_PUBLIC_KEY": Path(os.environ["MODEL_SIGNING_PUBLIC_KEY"]).read_text(),
            "LOCK": "language",
        }
        env.pop("PYTHONPATH", None)
        install = ["sh", str(ROOT / "docker" / "install.sh"), "case_language[service]"]
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    finally:
        running.stop()
    assert result.returncode != 0, result.stdout + result.stderr[-3000:]
    assert "refused: " in result.stderr, result.stderr[-3000:]
    assert re.search(planted.reason, result.stderr), result.stderr[-3000:]
    site = list(venv.glob("lib/python3*/site-packages"))
    assert site, "the install did not get as far as the wheel check"
    assert not list(site[0].glob("case_model*"))
    assert not (site[0] / "zz.pth").exists()
    assert not marker.exists()
    # The venv's own interpreter still is the real one, and starts without the planted code.
    check = subprocess.run([str(venv / "bin" / "python"), "-O", "-c", "print(1)"], capture_output=True, text=True)
    assert check.stdout.strip() == "1"
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        f"image build: signed case_model/ plus a planted {planted.shown}",
        1,
        "install.sh stops at verify-wheel, naming it; nothing installed, the planted code never ran",
    )


def test_planted_wheel_would_have_installed_the_member(model_wheel, tmp_path):
    """Why the check matters: pip itself installs such a wheel without a word."""
    planted = plants(VERSION, tmp_path / "pwned")["pth"]
    wheel = plant(model_wheel, tmp_path / "w" / model_wheel.name, {planted.member: planted.content})
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    assert (site / "zz.pth").is_file()
