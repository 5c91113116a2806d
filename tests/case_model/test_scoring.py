"""The lean scorer gives exactly the fitted pipeline's probabilities, and stands aside when it cannot."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import FeatureUnion

from case_model.classifier import CaseClassifier
from case_model.scoring import LinearScorer
from case_model.text import clean_text


def test_scorer_matches_predict_proba_exactly(demo_cases, trained):
    _, _, validation = demo_cases
    texts = [clean_text(text) for text in validation["text"][:300]] + ["", "x", "[EMAIL] " * 50]
    scorer = LinearScorer.from_pipeline(trained.pipeline)
    assert scorer is not None
    expected = trained.pipeline.predict_proba(texts)
    np.testing.assert_array_equal(scorer.predict_proba(texts), expected)
    for text in texts[:20]:  # one at a time, as a lone request is served
        np.testing.assert_array_equal(scorer.predict_proba([text]), trained.pipeline.predict_proba([text]))


def test_classifier_uses_the_scorer_and_falls_back_for_other_pipelines(trained):
    classifier = CaseClassifier(trained.pipeline, {"model_version": "1.0.0"})
    assert isinstance(classifier._scorer, LinearScorer)
    features = trained.pipeline.named_steps["features"]
    weighted = FeatureUnion(features.transformer_list, transformer_weights={"word": 2.0, "char": 1.0})
    other = type(trained.pipeline)([("features", weighted), ("model", trained.pipeline.named_steps["model"])])
    assert LinearScorer.from_pipeline(other) is None
    fallback = CaseClassifier(other, {"model_version": "1.0.0"})
    assert fallback._scorer is None
    assert len(fallback.predict(["my laptop battery does not charge"]).labels) == 1
