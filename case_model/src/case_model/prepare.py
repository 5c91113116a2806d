"""One call from a raw case log to what the classifier sees and whether it may see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from case_model.text import DEFAULT_MAX_CHARS, bound_raw, clean_text
from case_model.verdict import Verdict, filter_verdict


@dataclass(frozen=True, slots=True)
class Prepared:
    """A case after the text steps: the cleaned text and the filter verdict."""

    text: str
    verdict: Verdict


def prepare(raw: str, max_chars: int = DEFAULT_MAX_CHARS) -> Prepared:
    """Clean a raw case log and decide whether it can be classified."""
    raw = bound_raw(raw, max_chars)  # the verdict reads the raw text too
    cleaned = clean_text(raw, max_chars)
    return Prepared(cleaned, filter_verdict(raw, cleaned))


def prepare_many(raws: Iterable[str], max_chars: int = DEFAULT_MAX_CHARS) -> list[Prepared]:
    """:func:`prepare` over a batch, in order."""
    return [prepare(raw, max_chars) for raw in raws]
