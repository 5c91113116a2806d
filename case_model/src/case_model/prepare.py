"""One call from a raw case log to what the classifier sees and whether it may see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from case_model.case_filter import filter_status
from case_model.status import Status
from case_model.text import DEFAULT_MAX_CHARS, bound_raw, clean_text


@dataclass(frozen=True, slots=True)
class Prepared:
    """A case after the text steps: the cleaned text and the case filter's status."""

    text: str
    status: Status

    @property
    def verdict(self) -> Status:
        """The status under its old name, kept for one release for callers that read it."""
        return self.status


def prepare(raw: str, max_chars: int = DEFAULT_MAX_CHARS) -> Prepared:
    """Clean a raw case log and decide whether it can be classified."""
    raw = bound_raw(raw, max_chars)  # the filter reads the raw text too
    cleaned = clean_text(raw, max_chars)
    return Prepared(cleaned, filter_status(raw, cleaned))


def prepare_many(raws: Iterable[str], max_chars: int = DEFAULT_MAX_CHARS) -> list[Prepared]:
    """:func:`prepare` over a batch, in order."""
    return [prepare(raw, max_chars) for raw in raws]
