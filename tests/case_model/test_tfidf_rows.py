"""The served TF-IDF rows are the training pipeline's, to the bit, whatever the text."""

from __future__ import annotations

import numpy as np

from case_model import load
from case_model.text import clean_text
from case_model.tfidf_rows import CACHED_WORD_CHARS

#: Texts where a word-by-word shortcut could part from scikit-learn's whole-text analyzer: every
#: kind of Unicode whitespace, a final sigma (lower-cased by its context), case folding that
#: lengthens a word, words at and over the cache's length, repeats, nothing at all.
AWKWARD = [
    "",
    "   \t\n  ",
    "x",
    "ΟΔΟΣ ΣΟΦΟΣ Σ",
    "no\u00a0break\u2003em\u3000ideographic\x1cfile\x1dsep\u2028line\u2029para\x85next",
    "İstanbul ǅemal ﬁle Straße",
    "a" * CACHED_WORD_CHARS + " " + "b" * (CACHED_WORD_CHARS + 1),
    "printer printer printer jam jam " * 40,
    "[EMAIL] [PHONE] the laptop overheats after the bios update",
    "emoji 🙂🙂 and combining e\u0301 marks",
]


def _same(served, expected) -> None:
    assert served.shape == expected.shape
    np.testing.assert_array_equal(served.indptr, expected.indptr)
    np.testing.assert_array_equal(served.indices, expected.indices)
    np.testing.assert_array_equal(served.data, expected.data)  # bit for bit, not approximately


def test_rows_are_the_pipelines_for_awkward_text_alone_and_in_batches(trained, artifact_dir, demo_cases):
    features = trained.pipeline.named_steps["features"]
    scorer = load(artifact_dir).scorer
    _, _, validation = demo_cases
    batch = AWKWARD + [clean_text(text) for text in validation["text"][:60]]
    expected = features.transform(batch).tocsr()
    expected.sort_indices()
    _same(scorer.features(batch), expected)
    _same(scorer.features(batch), expected)  # again, every word now from the cache
    for text in AWKWARD:
        alone = features.transform([text]).tocsr()
        alone.sort_indices()
        _same(scorer.features([text]), alone)


def test_an_empty_batch_has_no_rows(artifact_dir):
    scorer = load(artifact_dir).scorer
    rows = scorer.features([])
    assert rows.shape == (0, len(scorer.feature_names()))
    assert scorer.predict_proba([]).shape == (0, len(scorer.classes))
