"""Index credentials reach the index and nothing else: not the publish or install logs, not the
index's own log, not the installed files (what an image layer would hold).

The index here is private for reading too, as a company's is: the install authenticates from a
``~/.netrc``, which is how the Dockerfiles' build secret hands it to pip.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys

import httpx
import pytest
from passlib.apache import HtpasswdFile

from dev.processes import LOOPBACK, Service, python_module, start_on_ports
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package_index")]
USER = "release-bot"


@pytest.fixture(scope="module")
def private_index(tmp_path_factory):
    """A pypiserver that wants credentials to list, download and upload; yields (url, password, log)."""
    password = secrets.token_urlsafe(24)
    root = tmp_path_factory.mktemp("private-index")
    (root / "packages").mkdir()
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(USER, password)
    htpasswd.save()

    def index(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "pypiserver", "run", "-i", LOOPBACK, "-p", str(ports[0]), "-P", str(root / "htpasswd"),
            "-a", "download,list,update", str(root / "packages"),
        )  # fmt: skip
        return Service("private-index", argv, f"http://{LOOPBACK}:{ports[0]}/health")

    running, (port,) = start_on_ports(index, 1, root / "logs")
    yield f"http://{LOOPBACK}:{port}", password, running
    running.stop()


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def test_credentials_appear_in_no_log_and_no_installed_file(private_index, model_wheel, tmp_path, reliability):
    url, password, index = private_index
    forms = [password, base64.b64encode(f"{USER}:{password}".encode()).decode()]  # as typed, as in Basic auth
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    upload = _run(
        [sys.executable, "-m", "twine", "upload", "--verbose", "--non-interactive", "--repository-url", f"{url}/",
         str(model_wheel)],
        {**env, "TWINE_USERNAME": USER, "TWINE_PASSWORD": password},
    )  # fmt: skip
    assert upload.returncode == 0, upload.stdout + upload.stderr

    pip = [sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
           "--index-url", f"{url}/simple/", "case-model==1.0.0"]  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    anonymous = _run([*pip, "--target", str(tmp_path / "anonymous"), "--no-input"], {**env, "HOME": str(home)})
    assert anonymous.returncode != 0, "the index served a download without credentials"
    netrc = home / ".netrc"
    netrc.write_text(f"machine {LOOPBACK}\nlogin {USER}\npassword {password}\n")
    netrc.chmod(0o600)
    target = tmp_path / "site"
    install = _run([*pip, "--target", str(target)], {**env, "HOME": str(home)})
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "case_model").is_dir()
    assert httpx.get(f"{url}/simple/").status_code == 401  # still private
    # The pipeline reads the wheel's hash from the private index with the same netrc file.
    lookup = [sys.executable, str(ROOT / "docker" / "wheel_hash.py"), f"{url}/simple/", "1.0.0"]
    hashed = _run(lookup, {**env, "NETRC": str(netrc)})
    assert hashed.stdout.strip() == hashlib.sha256(model_wheel.read_bytes()).hexdigest(), hashed.stderr
    refused = _run(lookup, {**env, "HOME": str(tmp_path)})
    assert "HTTP Error 401" in refused.stderr

    logs = {
        "twine upload --verbose": upload.stdout + upload.stderr,
        "pip install -v (anonymous)": anonymous.stdout + anonymous.stderr,
        "pip install -v": install.stdout + install.stderr,
        "wheel_hash.py": hashed.stdout + hashed.stderr + refused.stdout + refused.stderr,
        "index log": index.log_path.read_text(errors="replace"),
    }
    logs.update({str(path): path.read_text(errors="replace") for path in target.rglob("*") if path.is_file()})
    leaks = [(where, form[:4] + "...") for where, text in logs.items() for form in forms if form in text]
    assert leaks == []
    assert "case-model" in logs["pip install -v"]  # the scanned logs are the real ones
    reliability.record(
        "Artifact and images",
        "index credentials used to publish and install",
        len(logs),
        "found in none of the logs and installed files scanned",
    )
