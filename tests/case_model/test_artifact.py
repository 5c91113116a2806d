"""The artifact is verified before it is unpickled, and a mislabelled wheel is refused."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from case_model import ArtifactError, load
from case_model.artifact import METADATA_FILE, MODEL_FILE


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


def test_tampered_artifact_is_refused_before_unpickling(artifact_dir, tmp_path, reliability):
    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    pickle.loads(pickle.dumps(_Exploit(str(tmp_path / "proof"))))  # the payload does run when unpickled
    assert (tmp_path / "proof").exists()
    (tampered / MODEL_FILE).write_bytes(payload)
    with pytest.raises(ArtifactError, match=r"refusing to unpickle .* SHA-256"):
        load(tampered)
    assert not marker.exists()
    reliability.record(
        "Artifact and images",
        "model file replaced by a code-running pickle",
        1,
        "refused before unpickling; nothing ran",
    )


def test_one_flipped_byte_is_refused(artifact_dir, tmp_path, reliability):
    tampered = tmp_path / "artifact"
    shutil.copytree(artifact_dir, tampered)
    data = bytearray((tampered / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256"):
        load(tampered)
    reliability.record(
        "Artifact and images", "one byte of the model file flipped", 1, "refused: SHA-256 differs from the recorded one"
    )


def test_missing_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="no model metadata"):
        load(tmp_path)


def test_metadata_records_what_the_card_promises(artifact_dir):
    meta = json.loads((artifact_dir / METADATA_FILE).read_text())
    for key in ("model_version", "labels", "trained_at", "data_fingerprint", "metrics", "library_versions", "sha256"):
        assert meta[key]
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
