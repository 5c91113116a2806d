"""Model versions: they only go up, and a wheel's version is read without installing it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from packaging.version import Version

FIRST_VERSION = "1.0.0"
_WHEEL_NAME = re.compile(r"^case_model-(?P<version>[^-]+)-py3-none-any\.whl$")
_METADATA_IN_WHEEL = "case_model/_artifact/metadata.json"


def wheel_version(path: Path) -> str | None:
    """The version in a ``case_model-<version>-py3-none-any.whl`` file name, else ``None``."""
    match = _WHEEL_NAME.match(path.name)
    return match.group("version") if match else None


def known_versions(directory: Path) -> list[str]:
    """Versions of the case-model wheels in ``directory``, lowest first."""
    if not directory.is_dir():
        return []
    versions = [v for v in (wheel_version(p) for p in directory.glob("case_model-*.whl")) if v]
    return sorted(versions, key=Version)


_INDEX_LINK = re.compile(r"case_model-(?P<version>[^-/\s\"'#]+)-py3-none-any\.whl")


def index_versions(index_url: str, timeout: float = 30.0) -> list[str]:
    """Versions of the case-model wheels the package index already holds, lowest first.

    Read from the index's simple API (PEP 503: ``<index>/case-model/``), so a new model is numbered
    above every published one, not merely above the champion it was compared with: the champion
    is what production runs, and a later release may already hold its minor + 1. An index that has
    never held the project answers 404: no version yet.

    Raises:
        ValueError: the index cannot be read, or its URL is plain HTTP off loopback.
    """
    from case_model.training.candidate import split_credentials

    base, authorization = split_credentials(index_url)
    url = f"{base}/case-model/"
    headers = {"Accept": "text/html"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        # https, or http on loopback only: checked by split_credentials
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            page = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise ValueError(f"the model index {url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ValueError(f"cannot read the model index {url}: {getattr(error, 'reason', error)}") from None
    versions = {found["version"] for found in _INDEX_LINK.finditer(page)}
    return sorted(versions, key=Version)


def next_version(existing: list[str], requested: str | None = None) -> str:
    """The version for a new model: ``requested`` if higher than every existing one, else a bump.

    A version is never reused: ``existing`` holds every version known (the index's, the local
    wheels', the champion's), and the new one is above them all.

    Raises:
        ValueError: ``requested`` is not higher than the highest existing version.
    """
    highest = max((Version(v) for v in existing), default=None)
    if requested is not None:
        if highest is not None and Version(requested) <= highest:
            raise ValueError(f"version {requested} is not above the latest model version {highest}")
        return requested
    if highest is None:
        return FIRST_VERSION
    return f"{highest.major}.{highest.minor + 1}.0"


def wheel_metadata(path: Path) -> dict[str, Any]:
    """Read the model metadata straight out of a wheel file (no install, no model file read)."""
    try:
        with zipfile.ZipFile(path) as wheel:
            metadata: dict[str, Any] = json.loads(wheel.read(_METADATA_IN_WHEEL))
            return metadata
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a case-model wheel with model metadata ({error})") from error


def resolve_baseline(baseline: str, search_dir: Path) -> Path:
    """Find the baseline wheel: a path to a wheel, a directory holding exactly one (an image keeps
    its production wheel so), or a version looked up in ``search_dir``."""
    candidate = Path(baseline)
    if candidate.is_dir():
        wheels = sorted(candidate.glob("case_model-*.whl"))
        if len(wheels) != 1:
            raise ValueError(f"baseline directory {candidate} holds {len(wheels)} case_model wheels; expected one")
        return wheels[0]
    if candidate.suffix == ".whl":
        if not candidate.is_file():
            raise ValueError(f"baseline wheel {candidate} does not exist")
        return candidate
    path = search_dir / f"case_model-{baseline}-py3-none-any.whl"
    if not path.is_file():
        raise ValueError(f"baseline version {baseline}: no {path.name} in {search_dir}")
    return path
