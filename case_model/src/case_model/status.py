"""The status every answered case carries, decided in one place for online and batch alike.

A case's status starts as its filter verdict (:func:`case_model.verdict.filter_verdict`: empty,
too short, an automatic reply), is set to ``unsupported_language`` when a known language outside
the supported ones is detected, and to ``low_confidence`` when the classifier's confidence is under
the threshold (the label is still given; the CRM routes the case to a human). The transformer and
the batch pipeline both apply these rules from one :class:`StatusRules`, so the same case gets
the same status in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from case_model.language import DEFAULT_SUPPORTED, UNKNOWN
from case_model.verdict import Verdict

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

    def after_language(self, verdict: Verdict, language: str) -> Verdict:
        """A classifiable case in a known language outside the supported ones is not classified."""
        if verdict is Verdict.OK and language != UNKNOWN and language not in self.supported_languages:
            return Verdict.UNSUPPORTED_LANGUAGE
        return verdict

    def after_prediction(self, verdict: Verdict, confidence: float) -> Verdict:
        """A classified case under the confidence threshold goes to a human."""
        if verdict is Verdict.OK and confidence < self.confidence_threshold:
            return Verdict.LOW_CONFIDENCE
        return verdict
