"""The artifact is checked before it is read, holds nothing that can run, and a mislabelled wheel is refused."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from case_model import ArtifactError, load
from case_model.artifact import METADATA_FILE, sha256_file
from case_model.linear_model import ARRAYS_FILE, VOCABULARY_FILE


def test_load_predicts_with_metadata(artifact_dir):
    model = load(artifact_dir)
    predictions = model.predict(["The battery of my laptop does not charge any more."])
    assert predictions.labels == ["battery_power"]
    assert 0.0 < predictions.confidences[0] <= 1.0
    assert predictions.top_labels[0][0] == "battery_power"
    assert predictions.top_probabilities.shape == (1, 3)
    assert model.version == "1.0.0"
    assert set(model.metadata["labels"]) == set(model.classes)


class _Exploit:
    """A pickle that creates ``marker`` when it is loaded: what a planted model file could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_tampered_artifact_is_refused_before_it_is_read(artifact_dir, tmp_path, reliability):
    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Exploit(str(tmp_path / "proof"))))  # the payload does run when unpickled
    assert (tmp_path / "proof").exists()
    (tampered / ARRAYS_FILE).write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ArtifactError, match=r"refusing to load .*model.npz.* SHA-256"):
        load(tampered)
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        "model file replaced by a code-running pickle",
        1,
        "refused: its SHA-256 differs from the recorded one; nothing ran",
    )


def test_a_pickle_with_recomputed_digests_still_cannot_run(artifact_dir, tmp_path, reliability):
    """Whoever can rewrite the metadata too gets a format error, never code execution: the loader
    reads arrays with allow_pickle=False. (Refusing that wheel at all is the signature's job.)"""
    forged = tmp_path / "artifact"
    shutil.copytree(artifact_dir, forged)
    marker = tmp_path / "pwned"
    (forged / ARRAYS_FILE).write_bytes(pickle.dumps(_Exploit(str(marker))))
    meta = json.loads((forged / METADATA_FILE).read_text())
    meta["files"][ARRAYS_FILE] = sha256_file(forged / ARRAYS_FILE)
    (forged / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="malformed model"):
        load(forged)
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        "a code-running pickle as the model, its digest recomputed",
        1,
        "refused as malformed (arrays are read with allow_pickle=False); nothing ran",
    )


@pytest.mark.parametrize("name", [ARRAYS_FILE, VOCABULARY_FILE])
def test_one_flipped_byte_is_refused(artifact_dir, tmp_path, reliability, name):
    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    data = bytearray((tampered / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered / name).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256"):
        load(tampered)
    reliability.record(
        "Artifact and images", f"one byte of {name} flipped", 1, "refused: SHA-256 differs from the recorded one"
    )


def test_missing_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="no model metadata"):
        load(tmp_path)


def test_metadata_records_what_the_card_promises(artifact_dir):
    meta = json.loads((artifact_dir / METADATA_FILE).read_text())
    for key in ("model_version", "labels", "trained_at", "data_fingerprint", "metrics", "library_versions", "files"):
        assert meta[key]
    assert set(meta["files"]) == {ARRAYS_FILE, VOCABULARY_FILE}
    assert 0 < meta["metrics"]["macro_f1"] <= 1
    card = (artifact_dir / "MODEL_CARD.md").read_text()
    assert f"{meta['metrics']['macro_f1']:.4f}" in card
    assert (artifact_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_names_terms_of_the_case(artifact_dir):
    model = load(artifact_dir)
    text = "The fan of my laptop is extremely loud and it overheats."
    label = model.predict([text]).labels[0]
    terms = model.explain(text, label)
    assert terms
    assert all(weight > 0 for _, weight in terms)
    assert any(term.strip() in text.lower() for term, _ in terms)
