"""Wheels as someone able to upload to the model index could make them: the genuinely signed
``case_model/`` of a release wheel, plus a member planted beside it, with RECORD rewritten to
list it with its right hash (pip trusts RECORD, so an attacker keeps it consistent).

Each planted member would leave a marker file if its code ever ran; the tests assert it never does.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import marshal
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Plant:
    """One planted member: its name in the wheel, its bytes, and the refusal's reason (a regex)."""

    member: str
    content: bytes
    reason: str
    #: How reports name it (a path-like name of no file here would read as a stale citation).
    label: str = ""

    @property
    def shown(self) -> str:
        """The plant as reports name it."""
        return self.label or self.member


def _touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _opt1_bytecode(source: str) -> bytes:
    """``source`` compiled as the interpreter would cache it for ``python -O``, hash-checked off
    (an unchecked-hash .pyc runs whatever the ``.py`` beside it says)."""
    code = compile(source, "__init__.py", "exec", optimize=1)
    flags = (1).to_bytes(4, "little")  # hash-based, unchecked
    return importlib.util.MAGIC_NUMBER + flags + b"\0" * 8 + marshal.dumps(code)


def plants(version: str, marker: Path) -> dict[str, Plant]:
    """The four plants of the issue, by short name."""
    touch = _touch(marker)
    tag = sys.implementation.cache_tag
    return {
        "pth": Plant("zz.pth", f"import os; {touch}\n".encode(), r"zz\.pth refused: a \.pth file runs code"),
        "data-script": Plant(
            f"case_model-{version}.data/scripts/python",
            f"#!/bin/sh\ntouch {marker}\n".encode(),
            rf"case_model-{version}\.data/scripts/python refused: a \.data directory installs files",
        ),
        "checker": Plant(
            "case_signing/__init__.py",
            f"{touch}\ndef verify_wheel(*a, **k): pass\n".encode(),
            r"case_signing/__init__\.py refused: outside the signed case_model/ package",
            "case_signing package (its __init__.py replaced)",
        ),
        "bytecode": Plant(
            f"case_model/__pycache__/__init__.{tag}.opt-1.pyc",
            _opt1_bytecode(touch),
            rf"case_model/__pycache__/__init__\.{tag}\.opt-1\.pyc refused: shipped bytecode",
        ),
    }


def plant(wheel: Path, out: Path, members: dict[str, bytes]) -> Path:
    """``wheel`` with ``members`` added and its RECORD rewritten to list every member with its hash."""
    with zipfile.ZipFile(wheel) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    (record,) = [name for name in contents if name.endswith(".dist-info/RECORD")]
    contents.update(members)
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name, data in contents.items():
        if name == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([record, "", ""])
    contents[record] = rows.getvalue().encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in contents.items():
            target.writestr(name, data)
    return out
