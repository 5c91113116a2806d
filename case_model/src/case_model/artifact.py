"""The model artifact inside the wheel, and a loader that checks it before reading it.

The artifact is data only (:mod:`case_model.linear_model`: arrays read with ``allow_pickle=False`` and
JSON), so loading it cannot run code. Each file's SHA-256 is recorded in ``metadata.json`` when the
wheel is built and :func:`verify` compares before anything is parsed: a mixed-up or damaged file is
named as such rather than failing somewhere in NumPy. Loading the bundled artifact also checks that
the installed wheel's version is the version the metadata claims, so a re-labelled wheel is refused.

These digests travel in the same wheel as the files, so they prove integrity, not origin: whoever
builds a wheel can recompute them. Origin is the signature's job (:mod:`case_signing`), checked by
the services and the batch job before they import this package at all.
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

from case_model.linear_model import ARRAYS_FILE, VOCABULARY_FILE

#: The files whose SHA-256 the metadata records; together they are the classifier.
MODEL_FILES = (ARRAYS_FILE, VOCABULARY_FILE)
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
    """Read ``metadata.json`` (no model file is read)."""
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
    """Check the artifact's files against their recorded digests without parsing them; return the metadata.

    Raises:
        ArtifactError: a model file is missing, its SHA-256 differs from the recorded one, or
            (for the bundled artifact) the installed wheel's version differs from the metadata's.
    """
    bundled = artifact_dir is None
    directory = bundled_artifact_dir() if artifact_dir is None else Path(artifact_dir)
    meta = read_metadata(directory)
    recorded = meta.get("files")
    if not isinstance(recorded, dict) or set(recorded) != set(MODEL_FILES):
        wanted = ", ".join(MODEL_FILES)
        raise ArtifactError(f"the model metadata in {directory} does not record the digests of {wanted}")
    for name in MODEL_FILES:
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"model file missing: {path}")
        actual = sha256_file(path)
        if actual != recorded[name]:
            raise ArtifactError(
                f"refusing to load {path}: its SHA-256 is {actual}, "
                f"but the metadata records {recorded[name]}; the file was altered or replaced"
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
    """Verify, then read, the classifier (plain arrays and JSON: nothing in the files can run).

    Args:
        artifact_dir: A directory holding ``model.npz``, ``vocabulary.json`` and ``metadata.json``;
            by default the artifact bundled in the installed wheel.

    Returns:
        The ready-to-use :class:`case_model.classifier.CaseClassifier`.

    Raises:
        ArtifactError: see :func:`verify`, or the files are malformed.
    """
    from case_model.classifier import CaseClassifier
    from case_model.linear_model import LinearScorer, ScorerFormatError

    meta = verify(artifact_dir)
    directory = bundled_artifact_dir() if artifact_dir is None else Path(artifact_dir)
    try:
        scorer = LinearScorer.load(directory)
    except ScorerFormatError as error:
        raise ArtifactError(f"malformed model in {directory}: {error}") from error
    return CaseClassifier(scorer, meta)
