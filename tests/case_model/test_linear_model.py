"""The saved scorer gives exactly the training pipeline's answers, and holds nothing but data."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from case_model import load
from case_model.linear_model import ARRAYS_FILE, VOCABULARY_FILE, LinearScorer, ScorerFormatError
from case_model.text import clean_text


def test_saved_model_predicts_exactly_what_the_pipeline_did(demo_cases, trained, artifact_dir):
    """Identical predictions: the served model (loaded from npz + JSON) against the fitted pipeline."""
    _, _, validation = demo_cases
    texts = [clean_text(text) for text in validation["text"]] + ["", "x", "[EMAIL] " * 50, "Ünïcödé ÄÖÜ ß"]
    served = load(artifact_dir)
    expected = trained.pipeline.predict_proba(texts)
    np.testing.assert_array_equal(served.scorer.predict_proba(texts), expected)
    assert served.predict(texts).labels == trained.pipeline.predict(texts).tolist()
    for text in texts[:20]:  # one at a time, as a lone request is served
        np.testing.assert_array_equal(served.scorer.predict_proba([text]), trained.pipeline.predict_proba([text]))


def test_explanations_match_the_pipelines_features(trained, artifact_dir):
    served = load(artifact_dir)
    text = "the fan is loud and the laptop overheats after the bios update"
    features = trained.pipeline.named_steps["features"]
    expected = features.transform([text]).toarray()
    np.testing.assert_array_equal(served.scorer.features([text]).toarray(), expected)
    names = [name.split("__", 1)[1] for name in features.get_feature_names_out()]
    assert served.scorer.feature_names() == names


def test_the_files_hold_plain_numbers_and_json(artifact_dir):
    with zipfile.ZipFile(artifact_dir / ARRAYS_FILE) as arrays:
        assert all(name.endswith(".npy") for name in arrays.namelist())
    with np.load(artifact_dir / ARRAYS_FILE, allow_pickle=False) as npz:
        assert all(npz[name].dtype.kind == "f" for name in npz.files)
    description = json.loads((artifact_dir / VOCABULARY_FILE).read_text())
    assert {v["name"] for v in description["vocabularies"]} == {"word", "char"}


def test_an_object_array_is_refused_not_unpickled(artifact_dir, tmp_path):
    """np.load would unpickle an object array if allowed to; the loader never allows it."""
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(artifact_dir, copy)
    with np.load(copy / ARRAYS_FILE, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["platt_a"] = np.array([object()] * len(arrays["platt_a"]), dtype=object)
    np.savez(copy / ARRAYS_FILE, **arrays)
    with pytest.raises(ScorerFormatError, match="unreadable"):
        LinearScorer.load(copy)


def test_a_pipeline_that_cannot_be_written_as_data_is_refused(trained):
    features = trained.pipeline.named_steps["features"]
    weighted = FeatureUnion(features.transformer_list, transformer_weights={"word": 2.0, "char": 1.0})
    other = type(trained.pipeline)([("features", weighted), ("model", trained.pipeline.named_steps["model"])])
    with pytest.raises(ScorerFormatError, match="unweighted"):
        LinearScorer.from_pipeline(other)
    custom = TfidfVectorizer(tokenizer=str.split, token_pattern=None).fit(["a b c", "b c d"])
    other = type(trained.pipeline)(
        [("features", FeatureUnion([("custom", custom)])), ("model", trained.pipeline.named_steps["model"])]
    )
    with pytest.raises(ScorerFormatError, match="tokenizer cannot be written as data"):
        LinearScorer.from_pipeline(other)
