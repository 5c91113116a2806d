"""Sign a directory, verify a directory, a wheel or the installed package, with ``model-signing``.

A signature is a Sigstore bundle (``model.sig``) over every file of a directory, written inside it
and excluded from what it signs. Two directories are signed at build time with the same key: the
artifact directory (``case_model/_artifact``: what the predictor and batch load, and what
``--model-dir`` names), then the whole package (code, artifact and the artifact's signature), so
a wheel whose code was altered is refused as surely as one whose arrays were.

The installed package is located without importing it (``importlib.util.find_spec`` on a
top-level name reads no module), so its code does not run until its signature has been checked.
Byte-compiled files (``__pycache__``) are left out of the signature: the interpreter writes them
at install time, from the verified sources, and uses them only while they match them. A wheel
that ships bytecode of its own is refused before install (:mod:`case_signing.members`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from case_signing.keys import KeyPinnedError, public_key_path
from case_signing.members import PACKAGE, MemberError, check_dist_info, check_members, check_record, wheel_version

if TYPE_CHECKING:
    from model_signing import hashing

#: The signature's file name, inside the directory it signs.
SIGNATURE_FILE = "model.sig"


class ProvenanceError(RuntimeError):
    """The model's signature is missing, made with another key, or does not match its files."""


def sign_directory(directory: Path, private_key: Path) -> Path:
    """Sign every file under ``directory`` (``__pycache__`` left out); write and return ``directory/model.sig``."""
    from model_signing import signing

    signature = directory / SIGNATURE_FILE
    signature.unlink(missing_ok=True)
    config = _hashing(directory)
    partial = directory / f".{SIGNATURE_FILE}.partial"
    signing.Config().set_hashing_config(config).use_elliptic_key_signer(private_key=private_key).sign(
        directory, partial
    )
    partial.replace(signature)  # whole or absent: a concurrent verifier never reads half a signature
    return signature


def verify_directory(directory: Path, public_key: Path | None = None) -> None:
    """Check ``directory`` against the ``model.sig`` inside it.

    Raises:
        ProvenanceError: no signature, a signature by another key, or files added, removed or
            changed since signing (the message names them).
    """
    from model_signing import verifying

    key = _key(public_key)
    signature = directory / SIGNATURE_FILE
    if not signature.is_file():
        raise ProvenanceError(f"{directory} is not signed: no {SIGNATURE_FILE}; refusing to load an unsigned model")
    config = _hashing(directory)
    try:
        verifying.Config().set_hashing_config(config).use_elliptic_key_verifier(public_key=key).verify(
            directory, signature
        )
    except Exception as error:  # model-signing raises ValueError and library-specific errors alike
        raise ProvenanceError(f"{directory}: signature check against {key} failed: {_explain(error)}") from error


def verify_wheel(wheel: Path, public_key: Path | None = None) -> None:
    """Check a model wheel file without installing it: everything ``pip install`` would install.

    The signature covers ``case_model/``; pip installs every member. So first every member must be
    the signed package's or its own ``dist-info``'s (no ``.pth``, ``.data/``, other package or
    shipped bytecode: :mod:`case_signing.members`), then ``case_model/`` must match its signature,
    then ``RECORD`` must list exactly the members with their hashes, and the ``dist-info`` steer
    pip only as this project's build does.

    Raises:
        ProvenanceError: see :func:`verify_directory`; a member refused (named, with the reason);
            or the file is not a readable model wheel.
    """
    with tempfile.TemporaryDirectory(prefix="case-signing-") as tmp:
        package = Path(tmp) / PACKAGE
        try:
            with zipfile.ZipFile(wheel) as archive:
                version = wheel_version(wheel.name)
                files = check_members(archive, version)
                for member in files:
                    path = PurePosixPath(member.filename)
                    if path.parts[0] != PACKAGE:
                        continue
                    target = Path(tmp).joinpath(*path.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, target.open("wb") as out:
                        shutil.copyfileobj(source, out)
                if not package.is_dir():
                    raise ProvenanceError(f"{wheel}: no {PACKAGE}/ inside; not a model wheel")
                verify_directory(package, public_key)
                check_record(archive, files, version)
                check_dist_info(archive, version)
        except MemberError as error:
            raise ProvenanceError(f"{wheel}: {error}") from error
        except (OSError, zipfile.BadZipFile) as error:
            raise ProvenanceError(f"{wheel}: not a readable wheel ({error})") from error


def installed_package_dir() -> Path:
    """Where ``case_model`` would be imported from, found without importing it.

    Raises:
        ProvenanceError: it is not installed, or is not a plain package directory.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if len(locations) != 1:
        raise ProvenanceError(f"{PACKAGE} is not installed as one package directory (found {locations})")
    return Path(locations[0])


def verify_installed(public_key: Path | None = None) -> Path:
    """Check the package ``import case_model`` would load; return its directory.

    Must run before anything imports ``case_model``: once imported, its code has run.

    Raises:
        ProvenanceError: see :func:`verify_directory`; also if the package was imported already.
    """
    if PACKAGE in sys.modules:
        raise ProvenanceError(f"{PACKAGE} was imported before its signature was checked")
    directory = installed_package_dir()
    verify_directory(directory, public_key)
    return directory


def run_verified(module: str, argv: list[str] | None = None) -> int:
    """An entrypoint's body: check the installed model package, then import ``module`` and run its ``main``.

    Every service and job starts through this (``python -m predictor`` and the rest), so no code
    of an unverified model wheel runs. A refusal exits 3, saying why, as a refused artifact does.
    """
    try:
        directory = verify_installed()
    except (ProvenanceError, FileNotFoundError) as error:
        _log("ERROR", "model refused; not starting", reason=str(error))
        return 3
    _log("INFO", "model signature verified", package=str(directory))
    main = importlib.import_module(module).main
    result = main(argv) if argv is not None else main()
    return int(result or 0)


#: Ray's ``worker_process_setup_hook`` (a dotted path each worker process imports and calls):
#: :func:`verify_worker`.
WORKER_SETUP_HOOK = f"{__name__}.verify_worker"


def verify_worker() -> None:
    """A Ray worker process's first step: check the installed model package before any task runs.

    Ray workers are processes of their own (pods of their own on a cluster): they never pass
    through the driver's entrypoint, and they import ``case_model`` when a scoring actor or task
    is unpickled. The batch job starts Ray with this as ``worker_process_setup_hook``
    (:data:`WORKER_SETUP_HOOK`), so every worker refuses an unverified package before that.

    Raises:
        ProvenanceError: the package is refused, or its public key is missing; Ray then fails
            the worker, and the task or actor it was started for, with this message.
    """
    try:
        directory = verify_installed()
    except (ProvenanceError, FileNotFoundError) as error:
        _log("ERROR", "model refused; this Ray worker runs nothing", reason=str(error))
        raise ProvenanceError(f"model refused in a Ray worker: {error}") from error
    _log("INFO", "model signature verified (Ray worker)", package=str(directory))


def _key(public_key: Path | None) -> Path:
    try:
        return public_key_path(public_key)
    except (FileNotFoundError, KeyPinnedError) as error:
        raise ProvenanceError(str(error)) from error


_CHANGED = re.compile(r"Hash mismatch for \\*'([^'\\]+)\\*'")
_EXTRA = re.compile(r"Extra files found in model '[^']*': ([^\]\"]+)")
_MISSING = re.compile(r"Missing files in model '[^']*': ([^\]\"]+)")


def _explain(error: Exception) -> str:
    """model-signing's verdict in words: which files differ from the signed ones (it prints raw digests)."""
    text = str(error)
    parts = []
    changed = _CHANGED.findall(text)
    if changed:
        parts.append("changed since signing: " + ", ".join(f"'{name}'" for name in changed))
    for label, pattern in (("not signed", _EXTRA), ("missing", _MISSING)):
        found = pattern.search(text)
        if found:
            parts.append(f"{label}: {found.group(1).strip()}")
    return "; ".join(parts) or text


def _hashing(directory: Path) -> hashing.Config:
    """What is signed and checked: every file but the signature itself and byte-compiled files."""
    from model_signing import hashing

    bytecode = [path.relative_to(directory).as_posix() for path in directory.rglob("__pycache__") if path.is_dir()]
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE, *bytecode], ignore_git_paths=False)


def _log(level: str, message: str, **fields: str) -> None:
    """One JSON line on stderr, as the services log (their logging is not configured yet)."""
    import json

    print(json.dumps({"level": level, "logger": "case_signing", "message": message, **fields}), file=sys.stderr)
