"""An upstream release cannot break an install: the installer is pinned, and a lock stays the lock.

On 2026-12-03 uvicorn 0.55.0 appeared on the index while every lock pinned 0.54.0 by hash. kserve
asks for ``uvicorn[standard]``, and pip 23.x (Python 3.11's bundled pip) resolved that extra against
the index, took 0.55.0, and stopped every install with "all requirements must have their versions
pinned with ==". These tests rebuild that situation with packages made here: a real package index
over HTTP on loopback holds, beside the locked files, a newer release of a package reached only
through an extra. Then the lock is installed the way ``make venv`` and ``docker/install.sh`` do it,
through ``docker/venv.sh``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.version import Version

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: The pip wheel the installer lock pins, fetched once per session from the package registry
#: (``make venv`` needs it from there too), so the test's index can serve it.
INSTALLER_LOCK = ROOT / "locks" / "installer.txt"


def _wheel(directory: Path, name: str, version: str, requires: list[str], extras: list[str] = ()) -> Path:
    """A minimal, valid pure-Python wheel with one module and the given metadata."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{dist}-py3-none-any.whl"
    files = {
        f"{name.replace('-', '_')}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": "\n".join(
            [
                "Metadata-Version: 2.1",
                f"Name: {name}",
                f"Version: {version}",
                *(f"Provides-Extra: {extra}" for extra in extras),
                *(f"Requires-Dist: {requirement}" for requirement in requires),
                "",
            ]
        ),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for member, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _simple_index(root: Path, wheels: list[Path]) -> None:
    """A PEP 503 simple index of ``wheels`` under ``root/simple``, each link with its hash."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    for project, files in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{html.escape(f.name)}#sha256={_sha256(f)}">{html.escape(f.name)}</a>\n'
            for f in files
        )
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")


@pytest.fixture(scope="module")
def decoy_index(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A package index on loopback with the decoy release, and the lock that must win over it.

    ``decoy-app 1.0`` needs ``decoy-server[standard]>=1.0,<2`` (as kserve needs uvicorn[standard]);
    the lock pins ``decoy-server==1.0``; the index also holds ``decoy-server 1.1``, released "after
    the lock was written", that no lock names.
    """
    root = tmp_path_factory.mktemp("decoy-index")
    files = root / "files"
    files.mkdir()
    app = _wheel(files, "decoy-app", "1.0", ["decoy-server[standard]<2,>=1.0"])
    server = _wheel(files, "decoy-server", "1.0", ['decoy-speedups==1.0; extra == "standard"'], ["standard"])
    newer = _wheel(files, "decoy-server", "1.1", ['decoy-speedups==1.0; extra == "standard"'], ["standard"])
    speedups = _wheel(files, "decoy-speedups", "1.0", [])
    # The installer itself, by the lock's hash, from the package registry (pip's cache after make venv).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "-r",
            str(INSTALLER_LOCK),
            "--dest",
            str(files),
        ],
        check=True,
    )
    installer = next(files.glob("pip-*.whl"))
    _simple_index(root, [app, server, newer, speedups, installer])
    lock = root / "decoy-lock.txt"
    lock.write_text(
        "".join(
            f"{name}==1.0 --hash=sha256:{_sha256(wheel)}\n"
            for name, wheel in [("decoy-app", app), ("decoy-server", server), ("decoy-speedups", speedups)]
        )
    )
    # Bound to port 0 in this process and served from here: no port is freed and handed on.
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/simple/", lock
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _isolated_pip_env(index_url: str) -> dict[str, str]:
    """Only the test's index: no pip configuration file, no extra index, no find-links, no cache."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=index_url, PIP_NO_CACHE_DIR="1")
    return env


def _pinned_installer() -> str:
    return INSTALLER_LOCK.read_text().split("pip==")[1].split()[0]


def _installed(venv: Path, name: str) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_pinned_installer_installs_the_locked_version_despite_a_newer_release(decoy_index, tmp_path):
    """docker/venv.sh (make venv, docker/install.sh) installs the lock with the pinned installer:
    the locked 1.0 is installed, never the newer 1.1 the index offers through the extra."""
    index_url, lock = decoy_index
    venv = tmp_path / "venv"
    env = {**_isolated_pip_env(index_url), "PYTHON": sys.executable}
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "venv.sh"), str(venv), str(lock)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(venv, "decoy-server") == "1.0"
    assert _installed(venv, "decoy-speedups") == "1.0"
    assert _installed(venv, "pip") == _pinned_installer()


def test_a_base_image_with_an_old_pip_gets_the_same_environment(decoy_index, tmp_path):
    """A venv whose own pip is old (as a base image's may be) is brought to the pinned installer
    first; the environment is the same as from a fresh machine."""
    index_url, lock = decoy_index
    venv = tmp_path / "venv"
    env = {**_isolated_pip_env(index_url), "PYTHON": sys.executable}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bundled = _installed(venv, "pip")
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "venv.sh"), str(venv), str(lock)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(venv, "decoy-server") == "1.0"
    assert (bundled, _installed(venv, "pip")) == (bundled, _pinned_installer())


def test_the_bundled_installer_alone_is_broken_by_the_decoy(decoy_index, tmp_path):
    """The install path before docker/venv.sh (the interpreter's bundled pip installs the lock):
    the decoy release breaks it. This is the failure the pinned installer removes; it needs a
    bundled pip that has the bug (before 23.3; Python 3.11.7 bundles 23.2.1)."""
    import ensurepip

    bundled = ensurepip.version()
    if Version(bundled) >= Version("23.3"):  # pypa/pip#12345, fixed in 23.3
        pytest.skip(f"this interpreter bundles pip {bundled}, which has no such bug to show")
    index_url, lock = decoy_index
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
            str(lock),
        ],
        env=_isolated_pip_env(index_url),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "decoy-server" in result.stderr
    assert "all requirements must have their versions pinned" in result.stderr
