"""A retraining candidate: its files recorded in ``SHA256SUMS`` and staged in the candidates store.

Retraining proposes, a person releases. The cluster builds an unsigned wheel and its comparison
report, records their SHA-256 in ``SHA256SUMS`` (the ``sha256sum`` format, so a reviewer and the
release workflow check them with ``sha256sum --check``), and puts them in the candidates store
under ``candidates/<version>/``. The store is a generic artifact repository reached by plain HTTP
``PUT``; each upload carries ``If-None-Match: *`` so a store that already holds the file refuses it:
a version staged once is never replaced by another run's bytes.

The store's URL carries the uploader's credentials (``https://user:token@host/path/``); they are
sent as a Basic ``Authorization`` header, over HTTPS only (plain HTTP on loopback, for tests), and
never printed: messages name the store by host and path.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from packaging.version import InvalidVersion, Version

from case_model.artifact import sha256_file

SUMS_FILE = "SHA256SUMS"
_SUMS_LINE = re.compile(r"^(?P<digest>[0-9a-f]{64}) [ *](?P<name>[^/\\]+)$")
#: Seconds one upload may take; a store that hangs fails the Job rather than holding it to its deadline.
TIMEOUT = 120.0


class CandidateError(ValueError):
    """The candidate directory does not match its ``SHA256SUMS``, the store refused a file, or a
    store's URL is not one credentials may be sent to."""


def write_sums(directory: Path, files: list[Path]) -> Path:
    """Write ``directory/SHA256SUMS`` for ``files`` (each inside ``directory``), as ``sha256sum`` does."""
    lines = [f"{sha256_file(path)}  {path.name}\n" for path in sorted(files, key=lambda p: p.name)]
    sums = directory / SUMS_FILE
    sums.write_text("".join(lines), encoding="utf-8")
    return sums


def checked_files(directory: Path) -> list[Path]:
    """The files ``SHA256SUMS`` lists, each checked against its digest.

    Raises:
        CandidateError: no ``SHA256SUMS``, a line not in its format, a listed file missing or changed.
    """
    sums = directory / SUMS_FILE
    try:
        text = sums.read_text(encoding="utf-8")
    except OSError as error:
        raise CandidateError(f"cannot read {sums}: {error.strerror}") from None
    files = []
    for number, line in enumerate(text.splitlines(), 1):
        found = _SUMS_LINE.match(line)
        if found is None or found["name"] in (".", "..", SUMS_FILE):
            raise CandidateError(f"{sums}:{number}: not a '<sha256>  <file name>' line")
        path = directory / found["name"]
        if not path.is_file():
            raise CandidateError(f"{path} is listed in {SUMS_FILE} but missing")
        if sha256_file(path) != found["digest"]:
            raise CandidateError(f"{path} does not match its SHA-256 in {SUMS_FILE}: changed since the build")
        files.append(path)
    if not files:
        raise CandidateError(f"{sums} lists no file")
    return files


def candidate_version(directory: Path, files: list[Path]) -> str:
    """The version the report gives the challenger, checked against the wheel's name.

    The version becomes a path in the store, so it must be a PEP 440 version in normal form.
    """
    if directory / "report.json" not in files:
        raise CandidateError(f"{directory}: {SUMS_FILE} lists no report.json; a candidate comes with its report")
    try:
        version = str(json.loads((directory / "report.json").read_text(encoding="utf-8"))["challenger"]["version"])
        normal = str(Version(version))
    except (KeyError, TypeError, ValueError, InvalidVersion) as error:
        raise CandidateError(f"{directory / 'report.json'}: no valid challenger.version ({error})") from None
    if normal != version:
        raise CandidateError(f"{directory / 'report.json'}: version {version!r} is not in normal form ({normal})")
    wheel = f"case_model-{version}-py3-none-any.whl"
    if directory / wheel not in files:
        raise CandidateError(f"{directory}: {SUMS_FILE} does not list {wheel}, the wheel of the reported version")
    return version


def _is_loopback(host: str | None) -> bool:
    """Plain HTTP is allowed to a loopback store only (tests); the host is parsed, not prefix-matched."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without its credentials (printable), and the Basic ``Authorization`` header for them."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise CandidateError(
            f"the candidates store must be an https:// URL (plain http only on loopback), not {parts.scheme}://"
        )
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    header = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return bare, header


def is_staged(store_url: str, version: str) -> bool:
    """Whether the candidates store holds a candidate of ``version`` (its ``SHA256SUMS``, which
    staging writes last). Training asks before it numbers a candidate, so a run never builds a
    version an earlier, unreleased candidate holds.

    Raises:
        CandidateError: the store answers anything but 200 or 404, or cannot be reached.
    """
    base, authorization = split_credentials(store_url)
    url = f"{base}/candidates/{version}/{SUMS_FILE}"
    headers = {} if authorization is None else {"Authorization": authorization}
    request = urllib.request.Request(url, headers=headers, method="HEAD")  # noqa: S310
    try:
        # https, or http on loopback only: checked by split_credentials
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        raise CandidateError(
            f"cannot reach the candidates store at {base}: {getattr(error, 'reason', error)}"
        ) from None
    if status not in (200, 404):
        raise CandidateError(f"the candidates store answered HTTP {status} to {url}")
    return status == 200


def stage(directory: Path, store_url: str) -> list[str]:
    """Upload every file ``SHA256SUMS`` lists, then ``SHA256SUMS`` itself, to
    ``<store>/candidates/<version>/``; returns the URLs written (credentials left out).

    ``SHA256SUMS`` goes last: a reviewer who finds it finds every file it names.

    Raises:
        CandidateError: the directory does not match ``SHA256SUMS``, the store already holds a file
            of this version (HTTP 412 or 409: a version is never staged twice), answers anything but
            2xx, or cannot be reached.
    """
    files = checked_files(directory)
    version = candidate_version(directory, files)
    base, authorization = split_credentials(store_url)
    written = []
    for path in [*files, directory / SUMS_FILE]:
        url = f"{base}/candidates/{version}/{urllib.parse.quote(path.name)}"
        headers = {"If-None-Match": "*", "Content-Type": "application/octet-stream"}
        if authorization is not None:
            headers["Authorization"] = authorization
        request = urllib.request.Request(url, data=path.read_bytes(), headers=headers, method="PUT")  # noqa: S310
        try:
            # https, or http on loopback only: checked above
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CandidateError(f"cannot reach the candidates store at {base}: {reason}") from None
        if status in (409, 412):
            raise CandidateError(
                f"the candidates store already holds {url} (HTTP {status}): version {version} was staged "
                "before, and a version is never staged twice; nothing of it was replaced"
            )
        if not 200 <= status < 300:
            raise CandidateError(f"the candidates store answered HTTP {status} to the upload of {url}")
        written.append(url)
    return written
