"""A model whose origin is proven: forged, re-keyed and tampered wheels are refused before any of
their code runs or any of their files is read, by every path that installs or starts the model."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from case_model.artifact import METADATA_FILE
from case_model.linear_model import ARRAYS_FILE
from case_model.training.wheelbuild import build_wheel
from case_model.training.wheelcheck import check_wheel
from case_signing import ProvenanceError, generate_key_pair, sign_directory, verify_directory, verify_wheel
from tests.conftest import ROOT

# Starts every service as a process on a forged package and builds wheels (~20 s of `make check`).
pytestmark = pytest.mark.slow

ARTIFACT = "case_model/_artifact/"
RECORD = "case_model-1.0.0.dist-info/RECORD"


def _forge(wheel: Path, out: Path, changes: dict[str, bytes]) -> Path:
    """``wheel`` with some files replaced and every digest recomputed to match: the model metadata's
    and the RECORD's. What someone able to upload to the index could publish."""
    with zipfile.ZipFile(wheel) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    contents.update(changes)
    if any(name.startswith(ARTIFACT) for name in changes):
        meta = json.loads(contents[ARTIFACT + METADATA_FILE])
        for name in meta["files"]:
            meta["files"][name] = hashlib.sha256(contents[ARTIFACT + name]).hexdigest()
        contents[ARTIFACT + METADATA_FILE] = json.dumps(meta).encode()
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name, data in contents.items():
        if name == RECORD:
            writer.writerow([name, "", ""])
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    contents[RECORD] = rows.getvalue().encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in contents.items():
            target.writestr(name, data)
    return out


def _other_arrays(wheel: Path) -> bytes:
    """The model's arrays with every weight negated: a working model that answers wrongly."""
    with zipfile.ZipFile(wheel) as archive, np.load(io.BytesIO(archive.read(ARTIFACT + ARRAYS_FILE))) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["weights"] = -arrays["weights"]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def other_key(tmp_path_factory) -> tuple[Path, Path]:
    return generate_key_pair(tmp_path_factory.mktemp("other-key"), "other")


def test_the_release_wheel_verifies(model_wheel):
    verify_wheel(model_wheel)


def test_a_forged_wheel_with_recomputed_digests_is_refused(model_wheel, tmp_path, reliability):
    forged = _forge(
        model_wheel, tmp_path / "forged" / model_wheel.name, {ARTIFACT + ARRAYS_FILE: _other_arrays(model_wheel)}
    )
    assert check_wheel(forged) == []  # every digest inside agrees: integrity checks cannot tell
    changed = r"changed since signing: '_artifact/metadata\.json', '_artifact/model\.npz'$"
    with pytest.raises(ProvenanceError, match=changed):
        verify_wheel(forged)
    code = _forge(
        model_wheel,
        tmp_path / "code" / model_wheel.name,
        {"case_model/__init__.py": b"import os\nos.system('echo pwned')\n"},
    )
    assert check_wheel(code) == []
    with pytest.raises(ProvenanceError, match=r"changed since signing: '__init__\.py'$"):
        verify_wheel(code)
    reliability.record(
        "Artifact and images",
        "forged wheel (other weights, or other code), every digest recomputed",
        2,
        "check-wheel passes it; the signature check refuses it, naming the file",
    )


def test_a_wheel_signed_by_another_key_is_refused(artifact_dir, other_key, tmp_path, reliability):
    other_private, other_public = other_key
    wheel = build_wheel(artifact_dir, "1.0.0", tmp_path, other_private)
    verify_wheel(wheel, other_public)  # a valid signature, just not the release's
    with pytest.raises(ProvenanceError, match=r"signature check against .*model-signing\.pub failed"):
        verify_wheel(wheel)
    reliability.record("Artifact and images", "wheel signed by another key", 1, "refused by the release's public key")


def test_an_unsigned_wheel_is_refused(model_wheel, tmp_path):
    with zipfile.ZipFile(model_wheel) as source:
        contents = {n: source.read(n) for n in source.namelist() if n != "case_model/model.sig"}
    unsigned = tmp_path / model_wheel.name
    with zipfile.ZipFile(unsigned, "w") as target:
        for name, data in contents.items():
            target.writestr(name, data)
    with pytest.raises(ProvenanceError, match="is not signed"):
        verify_wheel(unsigned)


def test_a_tampered_array_file_is_refused(artifact_dir, tmp_path, reliability):
    import shutil

    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    verify_directory(tampered)
    data = bytearray((tampered / ARRAYS_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered / ARRAYS_FILE).write_bytes(bytes(data))
    with pytest.raises(ProvenanceError, match=r"changed since signing: 'model\.npz'$"):
        verify_directory(tampered)
    (tampered / "extra.npz").write_bytes(b"planted")
    with pytest.raises(ProvenanceError, match=r"not signed: extra\.npz"):
        verify_directory(tampered)
    reliability.record(
        "Artifact and images", "an array file changed, a file planted", 2, "signature check refuses, naming the file"
    )


def test_bytecode_written_after_signing_is_not_a_change(tmp_path, other_key):
    package = tmp_path / "case_model"
    (package / "pii").mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    (package / "pii" / "__init__.py").write_text("y = 2\n")
    sign_directory(package, other_key[0])
    (package / "pii" / "__pycache__").mkdir()
    (package / "pii" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"compiled at install")
    verify_directory(package, other_key[1])


def _start(module: str, pythonpath: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    environment.update(PYTHONPATH=pythonpath, **env)
    argv = [sys.executable, "-m", module, "--http_port", "0", "--grpc_port", "0"]
    if module in ("case_language", "case_feedback"):
        argv = [sys.executable, "-m", module, "--port", "0"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=environment, cwd=ROOT)


@pytest.mark.parametrize("module", ["predictor", "transformer", "case_language", "case_feedback", "case_batch"])
def test_a_forged_package_never_runs_in_any_service(module, model_wheel, tmp_path, reliability):
    """The forged wheel's code would leave a marker when imported; every entrypoint refuses first."""
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').close()\n".encode()
    with zipfile.ZipFile(model_wheel) as archive:
        init = archive.read("case_model/__init__.py")
    forged = _forge(model_wheel, tmp_path / "forged" / model_wheel.name, {"case_model/__init__.py": payload + init})
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(forged)], check=True
    )
    result = _start(module, f"{site}:{ROOT}")
    assert result.returncode == 3, result.stderr[-2000:]
    refusal = json.loads(result.stderr.strip().splitlines()[-1])
    assert refusal["message"] == "model refused; not starting"
    assert refusal["reason"].endswith("changed since signing: '__init__.py'")
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        f"{module} started on a forged model package (its code would run on import)",
        1,
        "exits 3 before importing it, saying why; the code never ran",
    )


def test_without_a_public_key_nothing_starts(model_wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(model_wheel)], check=True
    )
    result = _start("predictor", f"{site}:{ROOT}", MODEL_SIGNING_PUBLIC_KEY="")
    assert result.returncode == 3
    assert "no model signing public key: set MODEL_SIGNING_PUBLIC_KEY" in result.stderr


def test_the_cli_verifies_and_refuses(model_wheel, other_key, tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "case_signing", "verify-wheel", str(model_wheel)], capture_output=True, text=True
    )
    assert ok.returncode == 0
    assert "signature verified" in ok.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "case_signing", "verify-wheel", str(model_wheel), "--public-key", str(other_key[1])],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 3
    assert refused.stderr.startswith("refused: ")


def test_training_never_builds_an_unsigned_wheel(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MODEL_SIGNING_KEY"}
    argv = [sys.executable, "-m", "case_model.training.cli", "train", "--data", "x.csv", "--validation", "y.csv"]
    missing = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert missing.returncode == 2
    assert "pass --signing-key or set MODEL_SIGNING_KEY" in missing.stderr
    wrong = subprocess.run(
        [*argv, "--signing-key", str(tmp_path / "nowhere.key")], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert wrong.returncode == 2
    assert f"no signing key at {tmp_path / 'nowhere.key'}" in wrong.stderr
    assert not list(tmp_path.glob("**/*.whl"))
