"""Build the versioned wheel that carries the code, the trained artifact and its metadata.

The wheel is built from this package's own code, with the fitted pipeline written as plain data
(:mod:`case_model.linear_model`) into ``case_model/_artifact/`` and each file's SHA-256 recorded in
``metadata.json`` beside it. The package directory is then signed (:mod:`case_signing`) with the
release key, and the signature travels inside the wheel: whoever installs it can prove its origin.

Three builds share one set of steps, so a signed release is byte for byte the candidate a person
approved plus its signatures: a normal build stages the package, signs it and builds the wheel
(:func:`build_wheel` with a key); the retraining cluster, which holds no key, stages and builds a
*candidate* (:func:`build_wheel` without one); the release pipeline unpacks that candidate, signs
it and builds it again (:func:`sign_wheel`).

Retraining on a cluster runs from an installed wheel, not a checkout, so every wheel carries the
project files its build needs (``pyproject.toml``, ``README.md``) in ``case_model/_project/``: the
next version builds from a checkout or from an installed package alike, with the same code.
"""

from __future__ import annotations

import json
import os
import platform
import shutil

# runs the Python build frontend on our own source tree
import subprocess  # nosec B404
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath
from typing import Any

from case_model.artifact import (
    CONFUSION_MATRIX_FILE,
    METADATA_FILE,
    MODEL_CARD_FILE,
    MODEL_NAME,
    sha256_file,
)
from case_model.text import DEFAULT_MAX_CHARS
from case_model.training.fit import TrainingResult, plot_confusion
from case_model.training.modelcard import render_model_card

_LIBRARIES = ("scikit-learn", "numpy", "scipy", "py3langid")


_PROJECT_FILES = ("pyproject.toml", "README.md")


def build_sources() -> tuple[Path, Path]:
    """Where the build takes the project files and the package code from.

    Returns:
        The directory holding ``pyproject.toml`` and ``README.md``, and the package directory:
        the checkout's when this module runs from one, else those bundled in the installed wheel.
    """
    # This module lives in case_model/training/; the package is its parent's parent.
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1]
    if all((checkout / name).is_file() for name in _PROJECT_FILES) and checkout.joinpath("src", "case_model").is_dir():
        return checkout, package
    bundled = package / "_project"
    if all((bundled / name).is_file() for name in _PROJECT_FILES):
        return bundled, package
    raise RuntimeError(f"cannot build a wheel: {package} is neither in a checkout nor an installed case-model wheel")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that trained the model and score it."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def write_artifact(
    result: TrainingResult, version: str, directory: Path, extra: dict[str, Any], signing_key: Path | None
) -> dict[str, Any]:
    """Write the scorer's files, metadata (with their SHA-256), confusion matrix and model card, then
    sign the directory with the release key (``--model-dir`` loads verify that signature).

    Without a key (a retraining candidate) the directory stays unsigned: the release pipeline signs
    it inside the wheel (:func:`sign_package`), and nothing loads it before that.
    """
    from case_model.linear_model import LinearScorer

    directory.mkdir(parents=True, exist_ok=True)
    files = LinearScorer.from_pipeline(result.pipeline).save(directory)
    metadata: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_version": version,
        "labels": [str(label) for label in result.pipeline.classes_],
        "trained_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "data_fingerprint": result.data_fingerprint,
        "seed": result.seed,
        "n_train": result.n_train,
        "n_filtered_out": result.n_filtered,
        "corrections_applied": result.corrections_applied,
        "corrections": result.corrections.as_dict(),
        "label_counts": result.label_counts,
        "metrics": result.evaluation.as_dict(),
        "library_versions": library_versions(),
        "text_steps": {"max_chars": DEFAULT_MAX_CHARS},
        "files": {path.name: sha256_file(path) for path in files},
        **extra,
    }
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    plot_confusion(result.evaluation, directory / CONFUSION_MATRIX_FILE)
    (directory / MODEL_CARD_FILE).write_text(render_model_card(metadata, result.evaluation), encoding="utf-8")
    if signing_key is not None:
        from case_signing import sign_directory

        sign_directory(directory, signing_key)
    return metadata


def stage_package(artifact_dir: Path, version: str, staging: Path) -> Path:
    """Lay out a buildable project in ``staging``: this package's code, its project files, the
    version and the artifact (unsigned as staged; a signature left in a signed checkout or artifact
    belongs to another build). Returns the package directory, ``staging/src/case_model``."""
    from case_signing import SIGNATURE_FILE

    project, code = build_sources()
    package = staging / "src" / "case_model"
    shutil.copytree(
        code,
        package,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_artifact", "_project", SIGNATURE_FILE),
    )
    (package / "_project").mkdir()
    for name in _PROJECT_FILES:
        shutil.copy2(project / name, staging / name)
        shutil.copy2(project / name, package / "_project" / name)
    (package / "_version.py").write_text(
        f'"""Package version; rewritten by the wheel builder with the trained model\'s version."""\n\n'
        f'__version__ = "{version}"\n',
        encoding="utf-8",
    )
    shutil.copytree(artifact_dir, package / "_artifact", ignore=shutil.ignore_patterns(SIGNATURE_FILE))
    return package


def sign_package(package: Path, signing_key: Path) -> None:
    """Sign the artifact (what ``--model-dir`` loads check), then the whole package (code, artifact
    and the artifact's signature), so altered code is refused as surely as altered arrays."""
    from case_signing import sign_directory

    sign_directory(package / "_artifact", signing_key)
    sign_directory(package, signing_key)


def build_staged(staging: Path, version: str, out_dir: Path) -> Path:
    """Run the build frontend on a staged project; returns ``out_dir/case_model-<version>-py3-none-any.whl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "1767225600")}
    # fixed argv, our own interpreter
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir), str(staging)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wheel = out_dir / f"case_model-{version}-py3-none-any.whl"
    if not wheel.is_file():
        raise RuntimeError(f"the build did not produce {wheel}")
    return wheel


def build_wheel(artifact_dir: Path, version: str, out_dir: Path, signing_key: Path | None) -> Path:
    """Build ``case_model-<version>-py3-none-any.whl`` into ``out_dir`` with the artifact inside.

    With a key, the package is signed as a whole (code, artifact and its signature): a release.
    Without one, the wheel is an unsigned *candidate*: every verifier refuses it until the release
    pipeline signs it (:func:`sign_wheel`), so the cluster that trains it needs no release key.
    """
    with tempfile.TemporaryDirectory(prefix="case-model-build-") as tmp:
        staging = Path(tmp)
        package = stage_package(artifact_dir, version, staging)
        if signing_key is not None:
            sign_package(package, signing_key)
        return build_staged(staging, version, out_dir)


class CandidateWheelError(ValueError):
    """A wheel that cannot be signed as a candidate: already signed, or not a well-formed model wheel."""


def sign_wheel(wheel: Path, signing_key: Path, out_dir: Path) -> Path:
    """Sign an unsigned candidate wheel: unpack its package, sign it as a normal build does, build again.

    The candidate's own project files (``case_model/_project``) drive the rebuild, so the signed
    wheel holds the approved candidate's code and artifact and nothing else: only ``case_model/``
    is taken from it, after every member and the ``RECORD`` were checked as ``verify-wheel`` does.

    Raises:
        CandidateWheelError: the wheel already holds a signature (a signed wheel is a release, not a
            candidate), or a member or its ``RECORD`` is refused.
    """
    from case_signing import SIGNATURE_FILE
    from case_signing.members import PACKAGE, MemberError, check_members, check_record, wheel_version

    try:
        version = wheel_version(wheel.name)
        with zipfile.ZipFile(wheel) as archive:
            files = check_members(archive, version)
            check_record(archive, files, version)
            signed = [m.filename for m in files if PurePosixPath(m.filename).name == SIGNATURE_FILE]
            if signed:
                raise CandidateWheelError(
                    f"{wheel}: already holds a signature ({', '.join(signed)}); only an unsigned candidate is signed"
                )
            with tempfile.TemporaryDirectory(prefix="case-model-sign-") as tmp:
                staging = Path(tmp)
                for member in files:
                    path = PurePosixPath(member.filename)
                    if path.parts[0] != PACKAGE:
                        continue
                    target = staging.joinpath("src", *path.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, target.open("wb") as out:
                        shutil.copyfileobj(source, out)
                package = staging / "src" / PACKAGE
                for name in _PROJECT_FILES:
                    bundled = package / "_project" / name
                    if not bundled.is_file():
                        raise CandidateWheelError(
                            f"{wheel}: no {PACKAGE}/_project/{name}; not a model wheel this builds"
                        )
                    shutil.copy2(bundled, staging / name)
                if not (package / "_artifact").is_dir():
                    raise CandidateWheelError(f"{wheel}: no {PACKAGE}/_artifact/; not a model wheel")
                sign_package(package, signing_key)
                return build_staged(staging, version, out_dir)
    except MemberError as error:
        raise CandidateWheelError(f"{wheel}: {error}") from error
    except (OSError, zipfile.BadZipFile) as error:
        raise CandidateWheelError(f"{wheel}: not a readable wheel ({error})") from error
