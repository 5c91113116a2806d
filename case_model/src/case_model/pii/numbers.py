"""Card and phone numbers: runs of digit groups, cut into windows at the spaces between groups.

One scan finds every run of digits and the separators phone and card numbers are written with;
each run is cut into blocks at its spaces, and windows of consecutive whole blocks are tried,
longest first, as a card number, then as a phone number. A window never splits a block, so a date
(``15.03.2024``), a version (``31.0.15.3623``) or an order number (``123-4567890``) is judged as
the whole it is. Windows are bounded (``MAX_BLOCKS`` blocks, ``MAX_DIGITS`` digits), so each block
is looked at a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from case_model.patterns import compile_scanner
from case_model.pii.banking import is_card_number
from case_model.pii.kinds import CARD, PHONE
from case_model.pii.phones import KEYWORD_WINDOW, Budget, Run, could_be_phone_number, is_phone_number
from case_model.pii.spans import glued, replace_spans

_RUN = compile_scanner(r"[+(]?[0-9][0-9./() \t-]*")
_BLOCK = compile_scanner(r"[^ \t]+")
MAX_BLOCKS = 8
MAX_DIGITS = 19
_MIN_DIGITS = 7
_NO_DIGITS = str.maketrans("", "", "0123456789")
_NO_SEPARATORS = str.maketrans("", "", "+()./-\t ")


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    digits: str


def _blocks(text: str, start: int, end: int) -> list[_Block]:
    """The run's blocks, trimmed of sentence punctuation (``1234.`` -> ``1234``)."""
    blocks = []
    for match in _BLOCK.finditer(text[start:end]):
        first, last = start + match.start(), start + match.end()
        while first < last and text[first] in ".-/)":
            first += 1
        while last > first and text[last - 1] in ".-/(":
            last -= 1
        if first < last:
            blocks.append(_Block(first, last, text[first:last].translate(_NO_SEPARATORS)))
    return blocks


def _kind(text: str, first: _Block, last: _Block, digits: str, count: int, budget: Budget) -> str | None:
    """CARD, PHONE or None for the window from ``first`` to ``last`` (``count`` blocks with digits)."""
    card = is_card_number(digits)
    if not card and not could_be_phone_number(digits, text[first.start]):
        return None  # decided on the digits alone, the common case
    window = text[first.start : last.end]
    separators = set(window.translate(_NO_DIGITS))
    if card and separators <= {" ", "-"}:
        return CARD
    if "." in separators and separators - {"."}:  # dots only in dotted numbers (01.23.45.67.89)
        return None
    context = text[max(0, first.start - KEYWORD_WINDOW) : first.start].lower()
    if is_phone_number(Run(window, digits, count, context), budget):
        return PHONE
    return None


def _spans(text: str, budget: Budget) -> Iterator[tuple[int, int, str]]:
    for run in _RUN.finditer(text):
        blocks = _blocks(text, *run.span())
        i = 0
        while i < len(blocks):
            found = None
            if blocks[i].digits and not (i == 0 and glued(text, blocks[i].start - 1)):
                found = _longest_window(text, blocks, i, budget)
            if found is None:
                i += 1
                continue
            j, kind = found
            yield blocks[i].start, blocks[j].end, kind
            i = j + 1


def _longest_window(text: str, blocks: list[_Block], i: int, budget: Budget) -> tuple[int, str] | None:
    """The longest window starting at block ``i`` that is a card or phone number."""
    candidates: list[tuple[int, str, int]] = []  # end block, digits, blocks with digits
    digits, count = "", 0
    for j in range(i, min(len(blocks), i + MAX_BLOCKS)):
        if blocks[j].digits:
            digits += blocks[j].digits
            count += 1
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= _MIN_DIGITS and not (j == len(blocks) - 1 and glued(text, blocks[j].end)):
                candidates.append((j, digits, count))
    for j, window_digits, window_count in reversed(candidates):
        kind = _kind(text, blocks[i], blocks[j], window_digits, window_count, budget)
        if kind:
            return j, kind
    return None


def mask_numbers(text: str, budget: Budget) -> str:
    """Card numbers (Luhn-checked) and phone numbers (libphonenumber-checked)."""
    return replace_spans(text, _spans(text, budget))
