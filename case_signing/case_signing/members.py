"""What a model wheel may hold besides its signed package: its own ``dist-info``, and nothing else.

The signature covers ``case_model/`` only (the ``dist-info`` is written by the build backend after
signing), yet ``pip install`` installs every member of a wheel. So a wheel whose ``case_model/``
is genuinely signed could still carry code pip would place elsewhere: a top-level ``zz.pth`` (run
by every interpreter start), a ``case_model-1.2.0.data/scripts/python`` (a replaced interpreter
in the venv's ``bin/``), another top-level package (a replaced ``case_signing``, the checker
itself), or compiled bytecode under ``__pycache__`` (left out of the signature because the
interpreter writes it at install time, and run instead of the source under ``python -O``). This
module refuses all of those by name, before anything is extracted or installed:

* members: ``case_model/...`` (signed) and ``case_model-<version>.dist-info/`` holding only
  ``METADATA``, ``WHEEL``, ``RECORD``, ``entry_points.txt`` and ``licenses/``; no bytecode
  anywhere, no links, no duplicates, no path leaving the archive's root;
* ``RECORD``, which pip trusts, lists exactly the members present, each with its SHA-256 and size;
* the unsigned ``dist-info`` files that steer pip say only what this build writes: ``WHEEL`` a
  pure ``py3-none-any`` wheel, ``METADATA`` this name and version, ``entry_points.txt`` exactly
  the scripts the signed ``case_model/_project/pyproject.toml`` declares (an entry point named
  ``python`` would replace the venv's interpreter).
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import io
import re
import stat
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import PurePosixPath

#: The package the model wheel installs, and its distribution name in file names.
PACKAGE = "case_model"
#: What the wheel's ``dist-info`` may hold (``licenses/`` files are data pip copies, never runs).
DIST_INFO_FILES = frozenset({"METADATA", "WHEEL", "RECORD", "entry_points.txt"})
DIST_INFO_LICENSES = "licenses"
#: The project file inside the signed package that declares the wheel's console scripts.
PROJECT_FILE = f"{PACKAGE}/_project/pyproject.toml"
_WHEEL_NAME = re.compile(rf"{PACKAGE}-(?P<version>[^-]+)-py3-none-any\.whl")
_BYTECODE_SUFFIXES = (".pyc", ".pyo")


class MemberError(ValueError):
    """A wheel member that must not be installed, or a ``dist-info`` that disagrees with the wheel."""


def wheel_version(name: str) -> str:
    """The version in a model wheel's file name ``case_model-<version>-py3-none-any.whl``.

    Raises:
        MemberError: another file name (pip derives the ``dist-info`` it installs from it).
    """
    found = _WHEEL_NAME.fullmatch(name)
    if found is None:
        raise MemberError(f"{name}: not a {PACKAGE}-<version>-py3-none-any.whl file name")
    return found.group("version")


def check_members(archive: zipfile.ZipFile, version: str) -> list[zipfile.ZipInfo]:
    """Refuse any member pip would install outside the signed package and its own ``dist-info``.

    Returns:
        The file members (directories left out), every one of them allowed.

    Raises:
        MemberError: the first member refused, named, with the reason.
    """
    dist_info = f"{PACKAGE}-{version}.dist-info"
    seen: set[str] = set()
    files = []
    for member in archive.infolist():
        name = member.filename
        why = _refusal(member, dist_info)
        if why:
            raise MemberError(f"member {name} refused: {why}")
        if name in seen:
            raise MemberError(f"member {name} refused: it appears twice (which copy pip installs is not defined)")
        seen.add(name)
        if not member.is_dir():
            files.append(member)
    return files


def _refusal(member: zipfile.ZipInfo, dist_info: str) -> str | None:
    """Why ``member`` may not be installed, or None when it may."""
    name = member.filename
    path = PurePosixPath(name)
    if "\\" in name or path.is_absolute() or ".." in path.parts or not path.parts:
        return "its path leaves the install directory"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "a symbolic link"
    if "__pycache__" in path.parts or name.endswith(_BYTECODE_SUFFIXES):
        return "shipped bytecode; bytecode is only compiled here, from verified sources, after this check"
    top = path.parts[0]
    if top == PACKAGE:
        return None
    if top == dist_info:
        if member.is_dir():
            return None
        rest = path.parts[1:]
        if len(rest) == 1 and rest[0] in DIST_INFO_FILES:
            return None
        if len(rest) > 1 and rest[0] == DIST_INFO_LICENSES:
            return None
        return f"not a file of the wheel's dist-info (only {', '.join(sorted(DIST_INFO_FILES))}, licenses/)"
    if top.endswith(".data"):
        return "a .data directory installs files outside the package (scripts, headers, data); none is signed"
    if name.endswith(".pth"):
        return "a .pth file runs code at every interpreter start; it is outside the signed package"
    if top.endswith(".dist-info"):
        return f"another distribution's metadata (this wheel's is {dist_info}/)"
    return f"outside the signed {PACKAGE}/ package: pip would install it unchecked"


def check_record(archive: zipfile.ZipFile, files: list[zipfile.ZipInfo], version: str) -> None:
    """The ``dist-info/RECORD`` lists exactly ``files``, each with its right SHA-256 and size.

    Raises:
        MemberError: a member not in RECORD, a RECORD row without its member, or a wrong hash.
    """
    record_name = f"{PACKAGE}-{version}.dist-info/RECORD"
    present = {member.filename: member for member in files}
    if record_name not in present:
        raise MemberError(f"no {record_name}")
    rows: dict[str, list[str]] = {}
    for row in csv.reader(io.StringIO(archive.read(record_name).decode("utf-8"))):
        if not row:
            continue
        if row[0] in rows:
            raise MemberError(f"RECORD lists {row[0]} twice")
        rows[row[0]] = row
    unlisted = sorted(present.keys() - rows.keys())
    if unlisted:
        raise MemberError(f"member {unlisted[0]} refused: not listed in RECORD")
    absent = sorted(rows.keys() - present.keys())
    if absent:
        raise MemberError(f"RECORD lists {absent[0]}, which the wheel does not hold")
    for name, row in rows.items():
        if name == record_name:
            continue
        hash_spec = row[1] if len(row) > 1 else ""
        if not hash_spec.startswith("sha256="):
            raise MemberError(f"member {name} refused: RECORD gives it no sha256 hash")
        data = archive.read(name)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if digest != hash_spec.removeprefix("sha256="):
            raise MemberError(f"member {name} refused: its content does not match its RECORD hash")
        if len(row) > 2 and row[2] and row[2] != str(len(data)):
            raise MemberError(f"member {name} refused: RECORD gives it {row[2]} bytes, it holds {len(data)}")


def check_dist_info(archive: zipfile.ZipFile, version: str) -> None:
    """The unsigned ``dist-info`` says only what this project's build writes (see the module docstring).

    Raises:
        MemberError: ``WHEEL``, ``METADATA`` or ``entry_points.txt`` says something else.
    """
    dist_info = f"{PACKAGE}-{version}.dist-info"
    names = set(archive.namelist())
    for required in ("WHEEL", "METADATA"):
        if f"{dist_info}/{required}" not in names:
            raise MemberError(f"no {dist_info}/{required}")
    wheel = HeaderParser().parsestr(archive.read(f"{dist_info}/WHEEL").decode("utf-8"))
    if wheel["Root-Is-Purelib"] != "true" or wheel.get_all("Tag") != ["py3-none-any"]:
        raise MemberError(f"{dist_info}/WHEEL does not describe a pure py3-none-any wheel")
    metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode("utf-8"))
    if (metadata["Name"] or "").replace("_", "-").lower() != "case-model" or metadata["Version"] != version:
        raise MemberError(
            f"{dist_info}/METADATA names {metadata['Name']} {metadata['Version']}, not case-model {version}"
        )
    entry_points = f"{dist_info}/entry_points.txt"
    declared = _declared_scripts(archive)
    shipped = _entry_points(archive.read(entry_points).decode("utf-8")) if entry_points in names else {}
    if shipped != ({"console_scripts": declared} if declared else {}):
        raise MemberError(
            f"member {entry_points} refused: its entry points {shipped} are not the scripts the signed "
            f"{PROJECT_FILE} declares ({declared}); pip would write them into the environment's bin/"
        )


def _declared_scripts(archive: zipfile.ZipFile) -> dict[str, str]:
    """The console scripts of the signed project file (checked by the signature before this runs)."""
    try:
        project = tomllib.loads(archive.read(PROJECT_FILE).decode("utf-8")).get("project", {})
    except (KeyError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise MemberError(f"cannot read the signed {PROJECT_FILE}: {error}") from error
    scripts = project.get("scripts", {})
    return {str(name): str(target) for name, target in scripts.items()}


def _entry_points(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise MemberError(f"unreadable entry_points.txt: {error}") from error
    return {section: {k: v.strip() for k, v in parser[section].items()} for section in parser.sections()}
