"""The scikit-learn pipeline and the prediction/explanation API around it.

Word and character n-gram TF-IDF (the character n-grams carry typos, error codes and product
names that word tokens split badly) feeding a linear SVM whose scores are calibrated into
probabilities with Platt scaling on cross-validated folds, so ``confidence`` means what it says.
``ensemble=False`` keeps a single linear model: one dot product per class at predict time, and
weights that explain a prediction directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from case_model.linear_model import LinearScorer

TOP_K = 3


def build_pipeline(seed: int = 0) -> Pipeline:
    """Return the untrained pipeline; the same seed and data give the same fitted model."""
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    min_df=2,
                    max_features=60_000,
                    sublinear_tf=True,
                    lowercase=True,
                    token_pattern=r"(?u)\[\w+\]|\b\w\w+\b",  # noqa: S106 - a regex, not a password
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    min_df=3,
                    max_features=120_000,
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    model = CalibratedClassifierCV(
        LinearSVC(C=0.5, random_state=seed),
        method="sigmoid",
        cv=3,
        ensemble=False,
    )
    return Pipeline([("features", features), ("model", model)])


@dataclass(frozen=True, slots=True)
class Predictions:
    """Predictions for a batch of N texts, as arrays ready for the V2 outputs."""

    labels: list[str]
    confidences: np.ndarray  # float32 [N]
    top_labels: list[list[str]]  # [N, TOP_K]
    top_probabilities: np.ndarray  # float32 [N, TOP_K]


class CaseClassifier:
    """The trained scorer with its metadata; what :func:`case_model.load` returns."""

    def __init__(self, scorer: LinearScorer, metadata: dict[str, Any]) -> None:
        self.scorer = scorer
        self.metadata = metadata
        self.classes: list[str] = list(scorer.classes)
        self._classes = np.asarray(self.classes, dtype=object)
        self._feature_names: list[str] | None = None

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, metadata: dict[str, Any]) -> CaseClassifier:
        """The classifier a freshly trained pipeline will be once saved and loaded."""
        return cls(LinearScorer.from_pipeline(pipeline), metadata)

    @property
    def version(self) -> str:
        """The model version, which is also the wheel's version."""
        return str(self.metadata["model_version"])

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Classify cleaned texts in one vectorised call.

        Args:
            texts: Texts already passed through :func:`case_model.text.clean_text`.

        Returns:
            Label, confidence and the top-3 labels with their probabilities, per text.
        """
        if not texts:
            empty = np.zeros((0, TOP_K), dtype=np.float32)
            return Predictions([], np.zeros(0, dtype=np.float32), [], empty)
        probabilities = self.scorer.predict_proba(list(texts))
        k = min(TOP_K, probabilities.shape[1])
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        top_probabilities = np.take_along_axis(probabilities, order, axis=1).astype(np.float32)
        top_labels = self._classes[order]
        return Predictions(
            labels=top_labels[:, 0].tolist(),
            confidences=top_probabilities[:, 0].copy(),
            top_labels=top_labels.tolist(),
            top_probabilities=top_probabilities,
        )

    def explain(self, text: str, label: str, k: int = 5) -> list[tuple[str, float]]:
        """Name the features that pushed ``text`` towards ``label`` the most.

        The contribution of a feature is its TF-IDF value times the linear model's weight for the
        label; the largest positive ones are what an agent can check against the case.
        """
        row = self.scorer.features([text])
        weights = self.scorer.weights[self.classes.index(label)]
        contributions = row.data * weights[row.indices]
        best = np.argsort(-contributions, kind="stable")[:k]
        if self._feature_names is None:
            self._feature_names = self.scorer.feature_names()
        names = self._feature_names
        return [(names[row.indices[i]], round(float(contributions[i]), 4)) for i in best if contributions[i] > 0]
