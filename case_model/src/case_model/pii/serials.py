"""Serial numbers and service tags: they identify the customer's machine and its warranty record.

A serial after its keyword ("Service Tag: 7XK2M3Q", "S/N 4CE0460D0G"), whatever its shape, and a
bare token shaped like a service tag (seven upper-case letters and digits, both kinds present).
"""

from __future__ import annotations

import re

from case_model.patterns import NOT_WORD, SPACE, Match, any_of, compile_pattern, compile_scanner
from case_model.pii.kinds import SERIAL

_KEYWORD = any_of(
    rf"service{SPACE}*tag",
    rf"serial(?:{SPACE}*(?:number|no\.?|nr\.?|#))?",
    "s/n",
    "sn",
    "seriennummer",
    rf"numéro{SPACE}+de{SPACE}+série",
    rf"número{SPACE}+de{SPACE}+serie",
    rf"express{SPACE}+service{SPACE}+code",
)
# Keyword, at most a few separator characters, then the value (which may not be a placeholder).
_LABELLED = compile_pattern(
    f"(^|{NOT_WORD})({_KEYWORD})({SPACE}*[:#=]?{SPACE}*)([A-Za-z0-9][A-Za-z0-9-]*)", ignore_case=True
)
_MARKERS = ("tag", "serial", "s/n", "sn", "serien", "série", "serie", "express")
_MIN_VALUE, _MAX_VALUE = 5, 25
_SERVICE_TAG = compile_scanner(r"\b[A-Z0-9]{7}\b")


def _mask_labelled(match: Match) -> str:
    value = match.group(4)
    text, end = match.string, match.end()
    glued = end < len(text) and (text[end].isalnum() or text[end] == "_")
    # Without a separator the keyword may just start a word ("snapshot"): a serial has digits.
    run_on = not match.group(3) and not any(ch.isdigit() for ch in value)
    if glued or run_on or not _MIN_VALUE <= len(value) <= _MAX_VALUE:
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{SERIAL}"


def _mask_service_tag(match: re.Match[str]) -> str:
    token = match.group(0)
    return SERIAL if any(ch.isdigit() for ch in token) and any(ch.isalpha() for ch in token) else token


def mask_serials(text: str) -> str:
    """Labelled serials of any shape, then bare service-tag-shaped tokens."""
    lower = text.lower()
    if any(marker in lower for marker in _MARKERS):  # the RE2 call only where a keyword may be
        text = _LABELLED.sub(_mask_labelled, text)
    return _SERVICE_TAG.sub(_mask_service_tag, text)
