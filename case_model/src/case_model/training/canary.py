"""Canary sentences: ordinary cases with known labels that every model must still answer right.

Averages over a validation set move little when one narrow kind of case is poisoned: fifty
corrections teaching that a swollen battery is a hardware failure cost the demo model less than a
point of macro-F1 (inside the champion gate's tolerance), and a class's recall shows it only when
that kind of case is common in the validation set; yet that answer is what an attacker wanted
changed. A short, fixed list of plain cases, each of which the model classified correctly when the list was
made, catches such a flip by name: a candidate that answers any of them differently from its
known label is refused, and the refusal quotes the sentence.

The list ships with the package (``canary_sentences.csv``: columns ``text``, ``label``; a few
sentences per label, checked against the demo model when written); ``case-model train
--canary-sentences`` names another. The sentences go through the same text steps as a served case.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from case_model.classifier import CaseClassifier

#: The list shipped in the package, the default of ``case-model train --canary-sentences``.
DEFAULT_CANARY_FILE = Path(__file__).with_name("canary_sentences.csv")


@dataclass(frozen=True)
class Canary:
    """A sentence and the label any acceptable model gives it."""

    text: str
    label: str


@dataclass(frozen=True)
class CanaryMiss:
    """A canary sentence the candidate classifies otherwise."""

    text: str
    label: str
    predicted: str


@dataclass(frozen=True)
class CanaryCheck:
    """The candidate's answers to a canary file."""

    source: str
    sha256: str
    n: int
    misses: tuple[CanaryMiss, ...]

    def refusals(self) -> list[str]:
        """One reason per sentence answered wrongly, quoting it; empty when all are right."""
        return [
            f'canary sentence "{miss.text}" (labelled {miss.label}) is classified as {miss.predicted}'
            for miss in self.misses
        ]

    def as_dict(self) -> dict[str, Any]:
        """The report's form."""
        return {
            "file": self.source,
            "sha256": self.sha256,
            "n": self.n,
            "passed": not self.misses,
            "misclassified": [{"text": m.text, "label": m.label, "predicted": m.predicted} for m in self.misses],
        }


def read_canaries(path: Path) -> list[Canary]:
    """The canary sentences of a CSV file with columns ``text`` and ``label``.

    Raises:
        case_model.training.DataError: unreadable, without those columns, or without a sentence:
            an empty list would pass every model and so check nothing.
    """
    from case_model.training.fit import DataError

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"text", "label"} <= set(reader.fieldnames or ()):
                raise DataError(f"{path}: canary sentences need the columns text and label")
            canaries = [Canary(row["text"].strip(), row["label"].strip()) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the canary sentences: {error}") from error
    if not canaries or any(not c.text or not c.label for c in canaries):
        raise DataError(f"{path}: no canary sentences, or one without its text or label")
    return canaries


def check_canaries(classifier: CaseClassifier, path: Path) -> CanaryCheck:
    """Classify the canary sentences of ``path`` as the service would, and name each wrong answer.

    Raises:
        case_model.training.DataError: the file is unusable, or a sentence is one the service
            would not classify (too short, an auto-reply, another language): it would test nothing.
    """
    from case_model.prepare import prepare_many
    from case_model.status import Status
    from case_model.training.fit import DataError

    canaries = read_canaries(path)
    prepared = prepare_many(c.text for c in canaries)
    unclassifiable = [c.text for c, p in zip(canaries, prepared, strict=True) if p.status is not Status.OK]
    if unclassifiable:
        raise DataError(f"{path}: canary sentences the service would not classify: {unclassifiable}")
    predicted = classifier.predict([p.text for p in prepared]).labels
    misses = tuple(
        CanaryMiss(c.text, c.label, answer) for c, answer in zip(canaries, predicted, strict=True) if answer != c.label
    )
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return CanaryCheck(str(path), sha256, len(canaries), misses)
