"""The whole wheel is checked, not just its signed package: a wheel whose ``case_model/`` is
genuinely signed, plus a member pip would install beside it, is refused before any of it runs."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from case_model.training.wheelcheck import check_wheel
from case_signing import ProvenanceError, verify_wheel
from tests.case_signing.planted import plant, plants
from tests.conftest import ROOT

VERSION = "1.0.0"
DIST_INFO = f"case_model-{VERSION}.dist-info"


def _verify_cli(wheel: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "case_signing", "verify-wheel", str(wheel)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("name", sorted(plants(VERSION, Path("/m"))))
def test_a_planted_member_beside_a_signed_package_is_refused(name, model_wheel, tmp_path, reliability):
    marker = tmp_path / "pwned"
    planted = plants(VERSION, marker)[name]
    wheel = plant(model_wheel, tmp_path / "planted" / model_wheel.name, {planted.member: planted.content})
    assert check_wheel(wheel) == []  # RECORD agrees with every member: an integrity check cannot tell
    with pytest.raises(ProvenanceError, match=planted.reason):
        verify_wheel(wheel)
    result = _verify_cli(wheel)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.startswith("refused: ")
    assert re.search(planted.reason, result.stderr), result.stderr
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        f"signed case_model/ plus a planted {planted.shown}",
        1,
        "verify-wheel refuses it by name, with the reason; the planted code never ran",
    )


def _repack(wheel: Path, out: Path, changes: dict[str, bytes | None]) -> Path:
    """``wheel`` with members replaced, added or (None) removed, RECORD left as it was."""
    with zipfile.ZipFile(wheel) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    for name, data in changes.items():
        if data is None:
            contents.pop(name)
        else:
            contents[name] = data
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as target:
        for name, data in contents.items():
            target.writestr(name, data)
    return out


def test_record_must_list_exactly_the_members_with_their_hashes(model_wheel, tmp_path):
    unlisted = _repack(model_wheel, tmp_path / "a" / model_wheel.name, {f"{DIST_INFO}/licenses/LICENSE": b"x"})
    with pytest.raises(
        ProvenanceError, match=r"member case_model-1\.0\.0\.dist-info/licenses/LICENSE refused: not listed in RECORD"
    ):
        verify_wheel(unlisted)
    metadata = zipfile.ZipFile(model_wheel).read(f"{DIST_INFO}/METADATA")
    changed = _repack(model_wheel, tmp_path / "b" / model_wheel.name, {f"{DIST_INFO}/METADATA": metadata + b"\n"})
    with pytest.raises(ProvenanceError, match=r"METADATA refused: its content does not match its RECORD hash"):
        verify_wheel(changed)
    without = _repack(model_wheel, tmp_path / "c" / model_wheel.name, {f"{DIST_INFO}/entry_points.txt": None})
    with pytest.raises(ProvenanceError, match=r"RECORD lists case_model-1\.0\.0\.dist-info/entry_points\.txt, which"):
        verify_wheel(without)


def test_entry_points_are_only_the_scripts_the_signed_project_declares(model_wheel, tmp_path):
    """An entry point named ``python`` would have pip write a bin/python of the attacker's choosing."""
    scripts = b"[console_scripts]\ncase-model = case_model.training.cli:main\npython = case_model.training.cli:main\n"
    wheel = plant(model_wheel, tmp_path / "ep" / model_wheel.name, {f"{DIST_INFO}/entry_points.txt": scripts})
    with pytest.raises(ProvenanceError, match=r"entry_points\.txt refused: its entry points .* are not the scripts"):
        verify_wheel(wheel)


def test_dist_info_steers_pip_only_as_the_build_does(model_wheel, tmp_path):
    extra = plant(model_wheel, tmp_path / "x" / model_wheel.name, {f"{DIST_INFO}/direct_url.json": b"{}"})
    with pytest.raises(ProvenanceError, match=r"direct_url\.json refused: not a file of the wheel's dist-info"):
        verify_wheel(extra)
    impure = (
        zipfile.ZipFile(model_wheel)
        .read(f"{DIST_INFO}/WHEEL")
        .replace(b"Root-Is-Purelib: true", b"Root-Is-Purelib: false")
    )
    wheel = plant(model_wheel, tmp_path / "w" / model_wheel.name, {f"{DIST_INFO}/WHEEL": impure})
    with pytest.raises(ProvenanceError, match=r"WHEEL does not describe a pure py3-none-any wheel"):
        verify_wheel(wheel)


def test_a_wheel_file_named_otherwise_is_refused(model_wheel, tmp_path):
    renamed = tmp_path / "case_model-1.0.1-py3-none-any.whl"
    renamed.write_bytes(model_wheel.read_bytes())
    with pytest.raises(ProvenanceError, match=r"member case_model-1\.0\.0\.dist-info/.* refused: another distribution"):
        verify_wheel(renamed)
    other = tmp_path / "evil.whl"
    other.write_bytes(model_wheel.read_bytes())
    with pytest.raises(ProvenanceError, match=r"not a case_model-<version>-py3-none-any\.whl file name"):
        verify_wheel(other)
