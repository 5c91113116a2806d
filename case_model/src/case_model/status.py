"""The status every answered case carries, decided in one place for online and batch alike.

A case's status starts as the case filter's (:func:`case_model.case_filter.filter_status`: empty,
too short, an automatic reply), is set to ``unsupported_language`` when a known language outside
the supported ones is detected, and to ``low_confidence`` when the classifier's confidence is under
the threshold (the label is still given; the CRM routes the case to a human). The transformer and
the batch pipeline both apply these rules from one :class:`StatusRules`, so the same case gets
the same status in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from case_model.language import DEFAULT_SUPPORTED, UNKNOWN


class Status(StrEnum):
    """Why a case is (not) classified; the value is what ``status`` carries on the wire."""

    OK = "ok"
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    AUTO_REPLY = "auto_reply"
    # Set by language detection, not by :func:`case_model.case_filter.filter_status`.
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    # Set after prediction when the model is unsure, so the CRM routes the case to a human.
    LOW_CONFIDENCE = "low_confidence"
    # Set for a row the batch pipeline could not read (missing or non-text field).
    INVALID = "invalid"


#: Below this confidence a classified case is ``low_confidence``.
DEFAULT_CONFIDENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class StatusRules:
    """The language gate and the confidence floor, as configured."""

    supported_languages: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_SUPPORTED))
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD

    @classmethod
    def of(cls, supported_languages: Iterable[str], confidence_threshold: float) -> StatusRules:
        """Rules for the given languages (ISO 639-1) and threshold."""
        return cls(frozenset(supported_languages), confidence_threshold)

    def after_language(self, status: Status, language: str) -> Status:
        """A classifiable case in a known language outside the supported ones is not classified."""
        if status is Status.OK and language != UNKNOWN and language not in self.supported_languages:
            return Status.UNSUPPORTED_LANGUAGE
        return status

    def after_prediction(self, status: Status, confidence: float) -> Status:
        """A classified case under the confidence threshold goes to a human."""
        if status is Status.OK and confidence < self.confidence_threshold:
            return Status.LOW_CONFIDENCE
        return status
