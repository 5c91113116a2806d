"""Offline verification of a built wheel, for the release pipeline (no install, nothing loaded).

Checks that every file matches the hash in the wheel's RECORD, that the model files match the
SHA-256 digests in the model metadata, and that the file name, the wheel's METADATA and the model metadata
all name the same version.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from case_model.artifact import METADATA_FILE, MODEL_FILES
from case_model.training.versioning import wheel_version

_ARTIFACT = "case_model/_artifact/"


def check_wheel(path: Path) -> list[str]:
    """Return the problems found in a case-model wheel; an empty list means it passed."""
    problems: list[str] = []
    name_version = wheel_version(path)
    if name_version is None:
        return [f"{path.name}: not a case_model-<version>-py3-none-any.whl file name"]
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        dist_info = f"case_model-{name_version}.dist-info/"
        record_name = dist_info + "RECORD"
        if record_name not in names:
            return [f"{path.name}: no {record_name}"]
        for row in csv.reader(io.StringIO(wheel.read(record_name).decode("utf-8"))):
            if not row or row[0] == record_name:
                continue
            file_name, hash_spec = row[0], row[1]
            if not hash_spec.startswith("sha256="):
                problems.append(f"{file_name}: RECORD has no sha256 hash")
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(wheel.read(file_name)).digest()).rstrip(b"=")
            if digest.decode() != hash_spec.removeprefix("sha256="):
                problems.append(f"{file_name}: content does not match its RECORD hash")
        header = HeaderParser().parsestr(wheel.read(dist_info + "METADATA").decode("utf-8"))
        if header["Version"] != name_version:
            problems.append(f"METADATA says version {header['Version']}, the file name {name_version}")
        try:
            meta = json.loads(wheel.read(_ARTIFACT + METADATA_FILE))
            recorded = meta.get("files") or {}
            for name in MODEL_FILES:
                if hashlib.sha256(wheel.read(_ARTIFACT + name)).hexdigest() != recorded.get(name):
                    problems.append(f"{name} does not match the SHA-256 in the model metadata")
        except KeyError as error:
            return [*problems, f"missing model artifact: {error}"]
        if meta.get("model_version") != name_version:
            problems.append(f"model metadata says version {meta.get('model_version')}, the wheel {name_version}")
    return problems
