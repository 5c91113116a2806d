"""The trained classifier as plain data, and the scorer that serves it: no pickle anywhere.

A pickled scikit-learn pipeline runs code when it is loaded, so whoever can replace the file owns
the process. Yet the fitted model reduces to data: two TF-IDF vocabularies with their IDF weights,
one weight matrix with its intercepts, and one Platt sigmoid (a, b) per class. :class:`LinearScorer`
is read off the fitted pipeline once, at training time, and written as ``model.npz`` (the numbers,
read with ``allow_pickle=False``) and ``vocabulary.json`` (the terms, the classes and the few
tokenisation parameters). Loading builds scikit-learn ``CountVectorizer`` objects from those
parameters, so the text is tokenised by the very code that trained on it, and computes the same
probabilities as ``Pipeline.predict_proba``: counts, sublinear TF, IDF, L2 norm
(:mod:`case_model.tfidf_rows`), one sparse product, the per-class sigmoid, normalisation (the test
suite checks they are identical).

It is also faster than the pipeline: ``Pipeline.predict_proba`` on one text spends nine tenths of
its 2.5 ms validating input once per class calibrator and dispatching the FeatureUnion.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from case_model.tfidf_rows import TermBlock, tfidf_rows

#: The numbers: IDF per vectorizer, weights, intercepts, Platt parameters.
ARRAYS_FILE = "model.npz"
#: The terms of each vocabulary, the classes and the tokenisation parameters.
VOCABULARY_FILE = "vocabulary.json"
FORMAT = 1
#: The tokenisation parameters a vectorizer is rebuilt from; anything else (a callable, stop
#: words) cannot be written as data, and a pipeline using it is refused at training time.
_TOKENISATION = ("analyzer", "ngram_range", "lowercase", "token_pattern", "strip_accents", "binary")
_MUST_BE_NONE = ("preprocessor", "tokenizer", "stop_words", "vocabulary")


class ScorerFormatError(ValueError):
    """The scorer's files are malformed, inconsistent, or hold something other than plain data."""


@dataclass(frozen=True)
class Vocabulary:
    """One TF-IDF feature block: how text is tokenised, its terms in column order, their IDF."""

    name: str
    params: dict[str, Any]
    terms: list[str]
    idf: np.ndarray
    sublinear_tf: bool
    norm: str | None

    def vectorizer(self) -> CountVectorizer:
        """A scikit-learn vectorizer counting exactly these terms, tokenised as in training."""
        params = {**self.params, "ngram_range": tuple(self.params["ngram_range"])}
        vectorizer = CountVectorizer(
            vocabulary={term: index for index, term in enumerate(self.terms)}, dtype=self.idf.dtype, **params
        )
        vectorizer.transform([""])  # validates the vocabulary once, at load time
        return vectorizer


class LinearScorer:
    """TF-IDF features -> linear decision values -> per-class sigmoid -> normalised probabilities."""

    def __init__(
        self,
        classes: Sequence[str],
        vocabularies: Sequence[Vocabulary],
        weights: np.ndarray,
        intercept: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
    ) -> None:
        self.classes = [str(c) for c in classes]
        self.vocabularies = list(vocabularies)
        n_features = sum(len(v.terms) for v in self.vocabularies)
        n_classes = len(self.classes)
        if weights.shape != (n_classes, n_features):
            raise ScorerFormatError(f"weights of shape {weights.shape}, expected {(n_classes, n_features)}")
        for name, array in (("intercept", intercept), ("platt_a", a), ("platt_b", b)):
            if array.shape != (n_classes,):
                raise ScorerFormatError(f"{name} of shape {array.shape}, expected ({n_classes},)")
        for vocabulary in self.vocabularies:
            if vocabulary.idf.shape != (len(vocabulary.terms),):
                count = vocabulary.idf.shape[0]
                raise ScorerFormatError(f"{vocabulary.name}: {count} IDF values for {len(vocabulary.terms)} terms")
        self.weights = weights
        self._weights_t = np.ascontiguousarray(weights.T)  # (features, classes)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self._blocks = [TermBlock(v.vectorizer(), v) for v in self.vocabularies]

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> LinearScorer:
        """Read the scorer off the fitted training pipeline (word and char TF-IDF, calibrated SVM).

        Raises:
            ScorerFormatError: the pipeline is of another shape, or uses something (a callable
                tokenizer, feature weights, isotonic calibration) that cannot be written as data.
        """
        features, model = pipeline.named_steps.get("features"), pipeline.named_steps.get("model")
        if not isinstance(features, FeatureUnion) or features.transformer_weights is not None:
            raise ScorerFormatError("expected an unweighted FeatureUnion of TF-IDF vectorizers named 'features'")
        vocabularies = [_vocabulary(name, vectorizer) for name, vectorizer in features.transformer_list]
        if not isinstance(model, CalibratedClassifierCV) or len(model.calibrated_classifiers_) != 1:
            raise ScorerFormatError("expected a CalibratedClassifierCV with ensemble=False named 'model'")
        calibrated = model.calibrated_classifiers_[0]
        estimator = calibrated.estimator
        n_classes = len(calibrated.classes)
        if (
            calibrated.method != "sigmoid"
            or n_classes < 3
            or len(calibrated.calibrators) != n_classes
            # Platt's sigmoid calibrators, known by their fitted parameters (their class is private).
            or not all(hasattr(c, "a_") and hasattr(c, "b_") for c in calibrated.calibrators)
            or list(estimator.classes_) != list(calibrated.classes)
            or getattr(estimator, "coef_", np.empty(0)).shape[0] != n_classes
        ):
            raise ScorerFormatError("expected one-vs-rest sigmoid calibration of a linear model over 3+ classes")
        return cls(
            [str(c) for c in pipeline.classes_],
            vocabularies,
            np.asarray(estimator.coef_),
            np.asarray(estimator.intercept_, dtype=np.float64),
            np.asarray([c.a_ for c in calibrated.calibrators], dtype=np.float64),
            np.asarray([c.b_ for c in calibrated.calibrators], dtype=np.float64),
        )

    def save(self, directory: Path) -> list[Path]:
        """Write ``model.npz`` and ``vocabulary.json`` into ``directory``; return their paths."""
        arrays = {f"idf.{v.name}": v.idf for v in self.vocabularies}
        arrays.update(weights=self.weights, intercept=self.intercept, platt_a=self.a, platt_b=self.b)
        arrays_path, vocabulary_path = directory / ARRAYS_FILE, directory / VOCABULARY_FILE
        with arrays_path.open("wb") as handle:
            np.savez_compressed(handle, allow_pickle=False, **arrays)
        description = {
            "format": FORMAT,
            "classes": self.classes,
            "vocabularies": [
                {"name": v.name, "params": v.params, "sublinear_tf": v.sublinear_tf, "norm": v.norm, "terms": v.terms}
                for v in self.vocabularies
            ],
        }
        vocabulary_path.write_text(json.dumps(description, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        return [arrays_path, vocabulary_path]

    @classmethod
    def load(cls, directory: Path) -> LinearScorer:
        """Read the scorer back: numbers with ``allow_pickle=False``, the rest as JSON. Runs no code
        from the files, whatever they hold.

        Raises:
            ScorerFormatError: a file is missing or malformed, an array holds objects, or the
                shapes disagree.
        """
        try:
            description = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError) as error:  # object arrays raise ValueError
            raise ScorerFormatError(f"unreadable model files in {directory}: {error}") from error
        if not isinstance(description, dict) or description.get("format") != FORMAT:
            raise ScorerFormatError(f"{VOCABULARY_FILE}: not format {FORMAT}")
        try:
            vocabularies = [
                Vocabulary(
                    name=str(entry["name"]),
                    params=_checked_params(entry["params"]),
                    terms=[str(term) for term in entry["terms"]],
                    idf=arrays[f"idf.{entry['name']}"],
                    sublinear_tf=bool(entry["sublinear_tf"]),
                    norm=_checked_norm(entry["norm"]),
                )
                for entry in description["vocabularies"]
            ]
            return cls(
                description["classes"],
                vocabularies,
                arrays["weights"],
                arrays["intercept"],
                arrays["platt_a"],
                arrays["platt_b"],
            )
        except (KeyError, TypeError) as error:
            raise ScorerFormatError(f"model files in {directory} lack {error}") from error

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The TF-IDF rows of ``texts``, every block side by side, as the training pipeline made them."""
        return tfidf_rows(self._blocks, texts)

    def feature_names(self) -> list[str]:
        """The term of every feature column, in column order."""
        return [term for vocabulary in self.vocabularies for term in vocabulary.terms]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities of shape (len(texts), classes), as ``Pipeline.predict_proba`` gives them."""
        decision = np.asarray(self.features(texts) @ self._weights_t, dtype=np.float64) + self.intercept
        proba = expit(-(self.a * decision + self.b))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        proba = np.divide(proba, total, out=uniform, where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        result: np.ndarray = proba
        return result


def _vocabulary(name: str, vectorizer: object) -> Vocabulary:
    if not isinstance(vectorizer, TfidfVectorizer) or not vectorizer.use_idf or vectorizer.norm not in ("l2", None):
        raise ScorerFormatError(f"{name}: expected a TfidfVectorizer with IDF and L2 or no norm")
    params = vectorizer.get_params()
    for key in _MUST_BE_NONE:
        if params[key] is not None:
            raise ScorerFormatError(f"{name}: {key} cannot be written as data")
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    kept = {key: params[key] for key in _TOKENISATION}
    kept["ngram_range"] = list(kept["ngram_range"])
    return Vocabulary(
        name=name,
        params=_checked_params(kept),
        terms=terms,
        idf=np.asarray(vectorizer.idf_),
        sublinear_tf=bool(vectorizer.sublinear_tf),
        norm=vectorizer.norm,
    )


def _checked_params(params: object) -> dict[str, Any]:
    """Only known tokenisation parameters, of plain types: the file cannot smuggle a callable in."""
    if not isinstance(params, dict) or set(params) != set(_TOKENISATION):
        raise ScorerFormatError(f"tokenisation parameters must be exactly {', '.join(_TOKENISATION)}")
    if params["analyzer"] not in ("word", "char", "char_wb"):
        raise ScorerFormatError(f"unknown analyzer {params['analyzer']!r}")
    if params["strip_accents"] not in (None, "ascii", "unicode"):
        raise ScorerFormatError(f"unknown accent stripping {params['strip_accents']!r}")
    ngrams = params["ngram_range"]
    if not (isinstance(ngrams, list) and len(ngrams) == 2 and all(isinstance(n, int) for n in ngrams)):
        raise ScorerFormatError("ngram_range must be two integers")
    if not isinstance(params["token_pattern"], str | None) or not isinstance(params["lowercase"], bool):
        raise ScorerFormatError("token_pattern must be a string, lowercase a boolean")
    if params["binary"] is not False:
        raise ScorerFormatError("binary counts are not supported")
    return dict(params)


def _checked_norm(norm: object) -> str | None:
    if norm not in ("l2", None):
        raise ScorerFormatError(f"unsupported norm {norm!r}")
    return None if norm is None else "l2"
