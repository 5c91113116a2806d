"""Put the newest demo model wheel from ``dist/`` into this environment, as an image build would."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.version import Version

from case_signing import ProvenanceError, verify_wheel

DIST = Path("dist")


def ensure_model_installed(dist: Path = DIST) -> str:
    """Install the newest wheel from ``dist`` unless that version is already installed; return it."""
    from case_model.training.versioning import known_versions

    versions = known_versions(dist)
    if not versions:
        sys.exit(f"no model wheel in {dist}/: run `make model` first")
    newest = max(versions, key=Version)
    installed = _ask_fresh_interpreter("import case_model; print(case_model.read_metadata()['model_version'])")
    if installed != newest:
        wheel = dist / f"case_model-{newest}-py3-none-any.whl"
        try:  # as the image build does: the signature first, then pip
            verify_wheel(wheel)
        except ProvenanceError as error:
            sys.exit(f"refusing to install {wheel}: {error}")
        print(f"installing model wheel {wheel} (signature verified)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)], check=True
        )
    return newest


def installed_artifact_dir() -> Path:
    """The artifact directory of the installed wheel, asked of a fresh interpreter.

    A process that imported ``case_model`` from the source tree before the wheel was installed
    would still resolve the source tree's (empty) artifact directory.
    """
    return Path(
        _ask_fresh_interpreter("from case_model.artifact import bundled_artifact_dir; print(bundled_artifact_dir())")
    )


def _ask_fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new interpreter outside the source tree ("" if it fails)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False
    )
    return result.stdout.strip()


if __name__ == "__main__":
    print(f"case-model {ensure_model_installed()} installed (signature verified)")
