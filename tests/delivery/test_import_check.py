"""The image build's import check (docker/imports.py): a model wheel older than the code that calls
it fails the build, naming what is missing, instead of crashing the pod at its first start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "docker" / "imports.py"


def _run(deployable: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), deployable], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.parametrize("deployable", ["transformer", "case_batch"])
def test_the_deployables_import_against_the_model_package_they_ship_with(deployable: str) -> None:
    result = _run(deployable)
    assert result.returncode == 0, result.stderr


def test_an_older_model_package_without_the_status_flow_fails_the_check(tmp_path: Path) -> None:
    # A model package as wheels built before the shared status flow were: everything else there.
    import case_model

    old = tmp_path / "case_model"
    old.mkdir()
    source = Path(case_model.__file__).read_text()
    (old / "__init__.py").write_text(
        f"__path__ = [{str(Path(case_model.__file__).parent)!r}]\n"
        + source.replace("from case_model.flow import CaseFlow\n", "").replace('    "CaseFlow",\n', "")
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = _run("transformer", env)
    assert result.returncode != 0
    assert "cannot import name 'CaseFlow'" in result.stderr
