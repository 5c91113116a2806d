"""The filter verdict: whether a case may be classified at all, and if not, why.

Empty cases, one-word cases and automatic replies carry no category; classifying them would put a
confident-looking but meaningless label in front of an agent. They are answered with the reason
instead, by the transformer online and by the batch pipeline offline, from this one function.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Verdict(StrEnum):
    """Why a case is (not) classified; the value is what ``status`` carries on the wire."""

    OK = "ok"
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    AUTO_REPLY = "auto_reply"
    # Set by language detection, not by :func:`filter_verdict`.
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    # Set after prediction when the model is unsure, so the CRM routes the case to a human.
    LOW_CONFIDENCE = "low_confidence"
    # Set for a row the batch pipeline could not read (missing or non-text field).
    INVALID = "invalid"


#: Fewer word characters than this leaves nothing to classify.
MIN_CHARS = 12
#: Fewer words than this leaves nothing to classify.
MIN_WORDS = 3

# Letters-only words; placeholders such as ``[EMAIL]`` are not words.
_WORD = re.compile(r"(?<![\[\w])[^\W\d_]{2,}(?![\]\w])")
_AUTO_REPLY = re.compile(
    r"""(
        \bout\s+of\s+(the\s+)?office\b
      | \bautomatic\s+reply\b | \bauto[- ]?reply\b | \bautoreply\b | \bauto[- ]?response\b
      | \bdelivery\s+status\s+notification\b | \bundeliverable\b | \bmail\s+delivery\s+(failed|subsystem)\b
      | \bi\s+am\s+(currently\s+)?(away|on\s+(vacation|leave|holiday))\b
      | \babwesenheitsnotiz\b | \bautomatische\s+antwort\b | \bbin\s+(derzeit\s+)?nicht\s+im\s+büro\b
      | \bréponse\s+automatique\b | \babsent\s+du\s+bureau\b
      | \brespuesta\s+automática\b | \bfuera\s+de\s+la\s+oficina\b
      | \brisposta\s+automatica\b | \bfuori\s+ufficio\b
      | \bresposta\s+automática\b | \bautomatisch\s+antwoord\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)
#: Auto-reply markers count only near the top, where mail systems put them.
_AUTO_REPLY_WINDOW = 400


def filter_verdict(raw: str, cleaned: str) -> Verdict:
    """Decide whether a case can be classified.

    Args:
        raw: The case log as received (auto-reply markers are looked for at its top).
        cleaned: The same case after :func:`case_model.text.clean_text`.

    Returns:
        ``Verdict.OK`` or the reason the case is not classified.
    """
    if not cleaned:
        return Verdict.EMPTY
    if _AUTO_REPLY.search(raw[:_AUTO_REPLY_WINDOW]):
        return Verdict.AUTO_REPLY
    words = _WORD.findall(cleaned)
    if len(words) < MIN_WORDS or sum(map(len, words)) < MIN_CHARS:
        return Verdict.TOO_SHORT
    return Verdict.OK
