"""The model artifact inside the wheel, and a loader that verifies it before unpickling.

A joblib file is a pickle: loading it runs code. The SHA-256 of ``model.joblib`` is recorded in
``metadata.json`` when the wheel is built, and :func:`load` hashes the file and compares *before*
``joblib.load`` sees a byte. Loading the bundled artifact also checks that the installed wheel's
version is the version the metadata claims, so a re-labelled or mixed-up wheel is refused.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from case_model.classifier import CaseClassifier

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
DISTRIBUTION = "case-model"
#: The model's name on the V2 protocol (``/v2/models/<name>``), in its metadata and in every answer.
MODEL_NAME = "case-classifier"


class ArtifactError(RuntimeError):
    """The model artifact is missing, altered, or not the version it claims to be."""


def bundled_artifact_dir() -> Path:
    """Where the installed wheel keeps its artifact (``case_model/_artifact``)."""
    return Path(str(resources.files("case_model"))) / "_artifact"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large artifacts do not sit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metadata(artifact_dir: Path | None = None) -> dict[str, Any]:
    """Read ``metadata.json`` (no unpickling involved)."""
    path = (artifact_dir or bundled_artifact_dir()) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(
            f"no model metadata at {path}: install a trained case-model wheel "
            "(make model) or pass the directory of a trained artifact"
        )
    try:
        metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return metadata
    except (OSError, ValueError) as error:
        raise ArtifactError(f"unreadable model metadata at {path}: {error}") from error


def verify(artifact_dir: Path | None = None) -> dict[str, Any]:
    """Check the artifact against its metadata without unpickling it; return the metadata.

    Raises:
        ArtifactError: the model file is missing, its SHA-256 differs from the recorded one, or
            (for the bundled artifact) the installed wheel's version differs from the metadata's.
    """
    bundled = artifact_dir is None
    directory = bundled_artifact_dir() if artifact_dir is None else Path(artifact_dir)
    meta = read_metadata(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ArtifactError(f"model file missing: {model_path}")
    expected = meta.get("sha256")
    actual = sha256_file(model_path)
    if actual != expected:
        raise ArtifactError(
            f"refusing to unpickle {model_path}: its SHA-256 is {actual}, "
            f"but the metadata records {expected}; the file was altered or replaced"
        )
    if bundled:
        installed = importlib_metadata.version(DISTRIBUTION)
        if installed != meta.get("model_version"):
            raise ArtifactError(
                f"installed {DISTRIBUTION} is version {installed}, but its model metadata "
                f"says {meta.get('model_version')}; refusing a mislabelled wheel"
            )
    return meta


def load(artifact_dir: Path | None = None) -> CaseClassifier:
    """Verify, then unpickle, the classifier.

    Args:
        artifact_dir: A directory holding ``model.joblib`` and ``metadata.json``; by default the
            artifact bundled in the installed wheel.

    Returns:
        The ready-to-use :class:`case_model.classifier.CaseClassifier`.

    Raises:
        ArtifactError: see :func:`verify`; nothing is unpickled in that case.
    """
    import joblib

    from case_model.classifier import CaseClassifier

    meta = verify(artifact_dir)
    directory = bundled_artifact_dir() if artifact_dir is None else Path(artifact_dir)
    # SHA-256 verified just above
    pipeline = joblib.load(directory / MODEL_FILE)  # nosec B301
    return CaseClassifier(pipeline, meta)
