"""PII masking measured on a labelled corpus of EN/DE/FR/ES case sentences (``data/pii_corpus.txt``).

Per kind: recall (spans masked with their own placeholder and no part of them left in the text).
Look-alikes (order numbers, error codes, versions, dates, prices) must come out unchanged, and no
placeholder may appear that the labels do not call for (a false mask).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from case_model.pii import CARD, EMAIL, IBAN, IP_ADDRESS, MAC_ADDRESS, PHONE, SECRET, SERIAL, mask_pii

CORPUS = Path(__file__).parent / "data" / "pii_corpus.txt"
PLACEHOLDER = {
    "EMAIL": EMAIL,
    "PHONE": PHONE,
    "IBAN": IBAN,
    "CARD": CARD,
    "MAC": MAC_ADDRESS,
    "IP": IP_ADDRESS,
    "SECRET": SECRET,
    "SERIAL": SERIAL,
}
#: Least recall accepted per kind on this corpus.
MIN_RECALL = 0.95
_SPAN = re.compile(r"\[\[([A-Z]+):(.+?)\]\]")


@dataclass(frozen=True)
class Case:
    language: str
    text: str
    spans: tuple[tuple[str, str], ...]  # (kind, value)


def load_corpus(path: Path = CORPUS) -> list[Case]:
    """The corpus's cases, with their markup removed and their spans listed."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, _, marked = line.partition(" | ")
        spans = tuple((kind, value) for kind, value in _SPAN.findall(marked))
        cases.append(Case(language, _SPAN.sub(lambda m: m.group(2), marked), spans))
    return cases


def _leaked(value: str, masked: str) -> bool:
    """The value, or its longest run of four or more digits, is still in the masked text."""
    runs = sorted(re.findall(r"\d{4,}", value.replace(" ", "").replace("-", "")), key=len)
    return value in masked or bool(runs and runs[-1] in masked.replace(" ", "").replace("-", ""))


@dataclass
class Score:
    spans: Counter
    caught: Counter
    kept: int = 0
    keeps: int = 0
    false_masks: int = 0


def score(cases: list[Case]) -> Score:
    """Recall per kind, look-alikes kept, and placeholders no label called for."""
    result = Score(Counter(), Counter())
    for case in cases:
        masked = mask_pii(case.text)
        expected = Counter(kind for kind, _ in case.spans if kind != "KEEP")
        for kind, placeholder in PLACEHOLDER.items():
            found = masked.count(placeholder)
            not_leaked = sum(1 for k, value in case.spans if k == kind and not _leaked(value, masked))
            result.spans[kind] += expected[kind]
            result.caught[kind] += min(found, not_leaked)
            result.false_masks += max(0, found - expected[kind])
        for kind, value in case.spans:
            if kind == "KEEP":
                result.keeps += 1
                result.kept += value in masked
    return result


def test_the_corpus_is_large_enough_and_covers_every_language_and_kind():
    cases = load_corpus()
    spans = [span for case in cases for span in case.spans]
    assert len(spans) >= 150
    assert {case.language for case in cases} == {"en", "de", "fr", "es"}
    assert {kind for kind, _ in spans} == {*PLACEHOLDER, "KEEP"}


@pytest.fixture(scope="module")
def corpus_score() -> Score:
    return score(load_corpus())


@pytest.mark.parametrize("kind", sorted(PLACEHOLDER))
def test_recall_per_kind(corpus_score, kind, reliability):
    recall = corpus_score.caught[kind] / corpus_score.spans[kind]
    assert recall >= MIN_RECALL, f"{kind}: {corpus_score.caught[kind]} of {corpus_score.spans[kind]} masked"
    reliability.record(
        "PII masking",
        f"labelled corpus: {kind} spans",
        corpus_score.spans[kind],
        f"recall {recall:.2f} ({corpus_score.caught[kind]} of {corpus_score.spans[kind]})",
    )


def test_look_alikes_are_kept_and_nothing_else_is_masked(corpus_score, reliability):
    assert corpus_score.kept == corpus_score.keeps
    assert corpus_score.false_masks == 0
    reliability.record(
        "PII masking",
        "labelled corpus: look-alikes (order numbers, error codes, versions, dates, prices)",
        corpus_score.keeps,
        f"{corpus_score.kept} of {corpus_score.keeps} kept; {corpus_score.false_masks} false masks",
    )
