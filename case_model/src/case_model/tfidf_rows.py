"""TF-IDF rows of a batch of texts, exactly as the training pipeline makes them, at a third of the cost.

Why: with the model served this way, ``CountVectorizer.transform`` plus ``sparse.hstack`` were
three fifths of the predictor's CPU under load (py-spy, c=32), 206 microseconds a text in batches
of six. Most of it was scikit-learn's pure-Python loops: cutting every word of every text into
character n-grams again, and counting them in a dict per text. This module cuts the repeats, not
the tokenisation:

- ``char_wb`` n-grams never cross whitespace, so a text's n-grams are the union of its words'.
  Each distinct word is cut once, by scikit-learn's own n-gram code, and its vocabulary columns are
  kept in a bounded cache (:data:`CACHED_WORDS` words of at most :data:`CACHED_WORD_CHARS`
  characters: a hostile text of long or endless distinct words costs what it cost before, never
  unbounded memory). Support cases repeat their words, so nearly every word is a hit.
- The other analyzers (``word``, ``char``) run as scikit-learn builds them, text by text.
- Counting, sorting and the TF-IDF weighting run in numpy over the whole batch, and all blocks go
  into one sparse matrix, without a matrix per block and an ``hstack``.

The numbers are the same to the bit: counts, then sublinear TF, IDF and scikit-learn's own L2
normalisation in the same order, the columns of each row sorted and the blocks side by side, so the
product with the weights sums in the same order too. The test suite checks the rows against the
fitted pipeline's ``FeatureUnion.transform``.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

#: Distinct words whose ``char_wb`` columns are kept (about 10 MB at most).
CACHED_WORDS = 1 << 15
#: Longer words are cut each time they come: the cache's keys stay small.
CACHED_WORD_CHARS = 64
#: A column lookup's answer for a term outside the vocabulary.
_UNKNOWN = -1
#: Columns travel packed as C ints (``array`` code "i", numpy's ``intc``).
_COLUMN_CODE = "i"
_COLUMN_BYTES = array(_COLUMN_CODE).itemsize


class Weighting(Protocol):
    """How one vocabulary's counts become TF-IDF values (``linear_model.Vocabulary`` is one)."""

    @property
    def idf(self) -> np.ndarray: ...

    @property
    def sublinear_tf(self) -> bool: ...

    @property
    def norm(self) -> str | None: ...


class TermBlock:
    """One vocabulary's block of columns: its tokenisation and its weighting."""

    def __init__(self, vectorizer: CountVectorizer, weighting: Weighting) -> None:
        self.size = len(vectorizer.vocabulary_)
        self._weighting = weighting
        self._column = vectorizer.vocabulary_.get
        if vectorizer.analyzer == "char_wb":
            self._word_columns: Callable[[str], bytes] | None = self._cached_word_columns(vectorizer)
            self._preprocess = vectorizer.build_preprocessor()
            self._decode = vectorizer.decode
        else:
            self._word_columns = None
            self._analyze: Callable[[str], Iterable[str]] = vectorizer.build_analyzer()

    def _cached_word_columns(self, vectorizer: CountVectorizer) -> Callable[[str], bytes]:
        column = self._column
        # scikit-learn's own n-gram code, applied to one word: it pads the word and cuts it.
        ngrams: Callable[[str], list[str]] = vectorizer._char_wb_ngrams

        def columns(word: str) -> bytes:
            return array(_COLUMN_CODE, [index for index in map(column, ngrams(word)) if index is not None]).tobytes()

        cached = functools.lru_cache(maxsize=CACHED_WORDS)(columns)
        return lambda word: cached(word) if len(word) <= CACHED_WORD_CHARS else columns(word)

    def _columns(self, text: str) -> bytes:
        """The column of every term of ``text`` as packed ``int32`` (:data:`_UNKNOWN` for some
        terms outside the vocabulary): bytes join and become an array in C; a list of ints did not."""
        if self._word_columns is None:
            return array(_COLUMN_CODE, map(self._column, self._analyze(text), repeat(_UNKNOWN))).tobytes()
        # As scikit-learn's char_wb analyzer: decode, preprocess the whole text, split on whitespace.
        return b"".join(map(self._word_columns, self._preprocess(self._decode(text)).split()))

    def entries(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column (within this block) and TF-IDF value of every non-zero entry, sorted by row,
        then column."""
        found = [self._columns(text) for text in texts]
        lengths = [len(packed) // _COLUMN_BYTES for packed in found]
        columns = np.frombuffer(b"".join(found), dtype=np.intc).astype(np.int64)
        keys = np.repeat(np.arange(len(texts), dtype=np.int64) * self.size, lengths) + columns
        unique, counts = np.unique(keys[columns != _UNKNOWN], return_counts=True)
        rows, columns = np.divmod(unique, self.size)
        weighting = self._weighting
        values = counts.astype(weighting.idf.dtype)
        if weighting.sublinear_tf:
            np.log(values, values)
            values += 1.0
        values *= weighting.idf[columns]
        if weighting.norm == "l2":
            indptr = np.searchsorted(rows, np.arange(len(texts) + 1))
            block = sparse.csr_matrix((values, columns, indptr), shape=(len(texts), self.size))
            inplace_csr_row_normalize_l2(block)  # scikit-learn's own, as TfidfTransformer calls it
            values = block.data
        return rows, columns, values


def tfidf_rows(blocks: Sequence[TermBlock], texts: Sequence[str]) -> sparse.csr_matrix:
    """The TF-IDF rows of ``texts``, every block side by side, as ``FeatureUnion.transform`` makes them."""
    parts = [block.entries(texts) for block in blocks]
    offsets = np.cumsum([0, *(block.size for block in blocks)])  # each block's first column
    rows = np.concatenate([part[0] for part in parts])
    order = np.argsort(rows, kind="stable")  # a row's blocks stay in block order, each one sorted
    columns = np.concatenate([part[1] + offset for part, offset in zip(parts, offsets, strict=False)])
    values = np.concatenate([part[2] for part in parts])[order]
    indptr = np.searchsorted(rows[order], np.arange(len(texts) + 1)).astype(np.int32)
    shape = (len(texts), int(offsets[-1]))
    return sparse.csr_matrix((values, columns[order].astype(np.int32), indptr), shape=shape, copy=False)
