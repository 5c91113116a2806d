"""The per-case status flow: intake, language, prediction, each decided once for online and batch.

A case's status is decided in three steps, and whoever serves the model runs the same three: the
transformer for one request, the batch scorer for one block of rows. Both keep their own
containers (a request plan, a table of columns) but hand the decisions to :class:`CaseFlow`, so
the same case gets the same status, language and cleaned text in both because it is one piece of
code, and the batch/online parity test proves it rather than holding two copies together.

The flow is over plain lists, indexed like the caller's cases: the callers already hold their
cases in order, and lists cost nothing to hand over (no frame, no array per step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from case_model.language import UNKNOWN
from case_model.prepare import prepare
from case_model.status import Status, StatusRules
from case_model.text import DEFAULT_MAX_CHARS


@dataclass(slots=True)
class CaseFlow:
    """Each case's cleaned text, status and language, from intake to the merged answer.

    ``statuses[i]`` stays :attr:`Status.OK` while case ``i`` may still be classified; every later
    step only ever moves an ``ok`` case to a refusal, never back.
    """

    texts: list[str]
    statuses: list[Status]
    languages: list[str]

    @classmethod
    def start(cls, raws: Sequence[str | None], max_chars: int = DEFAULT_MAX_CHARS) -> CaseFlow:
        """Intake: clean every case and let the case filter decide whether it may be classified.

        ``None`` stands for a case the caller could not read (a missing or non-text field): it is
        :attr:`Status.INVALID`, with no text, and takes no further step.
        """
        texts: list[str] = []
        statuses: list[Status] = []
        for raw in raws:
            if raw is None:
                texts.append("")
                statuses.append(Status.INVALID)
                continue
            prepared = prepare(raw, max_chars)
            texts.append(prepared.text)
            statuses.append(prepared.status)
        return cls(texts, statuses, [UNKNOWN] * len(texts))

    def classifiable(self) -> list[int]:
        """The cases still ``ok``: before detection those waiting for a language, after it those
        the classifier must see, in order."""
        return [i for i, status in enumerate(self.statuses) if status is Status.OK]

    def texts_of(self, indices: Sequence[int]) -> list[str]:
        """The cleaned texts of ``indices``, in that order: what detection or the classifier sees."""
        return [self.texts[i] for i in indices]

    def record_languages(self, indices: Sequence[int], languages: Sequence[str], rules: StatusRules) -> None:
        """Language: record each detected language; a known language outside the supported ones
        is not classified."""
        for i, language in zip(indices, languages, strict=True):
            self.languages[i] = language
            self.statuses[i] = rules.after_language(self.statuses[i], language)

    def record_confidences(self, indices: Sequence[int], confidences: Sequence[float], rules: StatusRules) -> None:
        """Prediction: a classified case under the confidence floor goes to a human (its label
        is still given)."""
        for i, confidence in zip(indices, confidences, strict=True):
            self.statuses[i] = rules.after_prediction(self.statuses[i], float(confidence))

    def status_values(self) -> list[str]:
        """The statuses as the wire and the output table carry them."""
        return [status.value for status in self.statuses]
