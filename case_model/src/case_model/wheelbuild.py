"""Build the versioned wheel that carries the code, the trained artifact and its metadata.

The wheel is built from this package's own code, with the fitted pipeline written as plain data
(:mod:`case_model.scoring`) into ``case_model/_artifact/`` and each file's SHA-256 recorded in
``metadata.json`` beside it. The package directory is then signed (:mod:`case_signing`) with the
release key, and the signature travels inside the wheel: whoever installs it can prove its origin.

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
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from case_model.artifact import (
    CONFUSION_MATRIX_FILE,
    METADATA_FILE,
    MODEL_CARD_FILE,
    MODEL_NAME,
    sha256_file,
)
from case_model.modelcard import render_model_card
from case_model.text import DEFAULT_MAX_CHARS
from case_model.training import TrainingResult, plot_confusion

_LIBRARIES = ("scikit-learn", "numpy", "scipy", "py3langid")


_PROJECT_FILES = ("pyproject.toml", "README.md")


def build_sources() -> tuple[Path, Path]:
    """Where the build takes the project files and the package code from.

    Returns:
        The directory holding ``pyproject.toml`` and ``README.md``, and the package directory:
        the checkout's when this module runs from one, else those bundled in the installed wheel.
    """
    package = Path(__file__).resolve().parent
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
    result: TrainingResult, version: str, directory: Path, extra: dict[str, Any], signing_key: Path
) -> dict[str, Any]:
    """Write the scorer's files, metadata (with their SHA-256), confusion matrix and model card, then
    sign the directory with the release key (``--model_dir`` loads verify that signature)."""
    from case_model.scoring import LinearScorer
    from case_signing import sign_directory

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
    sign_directory(directory, signing_key)
    return metadata


def build_wheel(artifact_dir: Path, version: str, out_dir: Path, signing_key: Path) -> Path:
    """Build ``case_model-<version>-py3-none-any.whl`` into ``out_dir`` with the artifact inside,
    the package signed as a whole (code, artifact and its signature) with the release key."""
    from case_signing import SIGNATURE_FILE, sign_directory

    project, code = build_sources()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="case-model-build-") as tmp:
        staging = Path(tmp)
        package = staging / "src" / "case_model"
        shutil.copytree(
            code,
            package,
            # A signature left in a signed checkout is not part of the new build.
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
        shutil.copytree(artifact_dir, package / "_artifact")
        sign_directory(package, signing_key)
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
