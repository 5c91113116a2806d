"""Card and phone numbers: runs of digit groups, cut into windows at the spaces between groups.

One scan finds every run of digits and the separators phone and card numbers are written with;
each run is cut into blocks at its spaces, and windows of consecutive whole blocks are tried,
longest first, as a card number, then as a phone number. A window never splits a block, so a date
(``15.03.2024``), a version (``31.0.15.3623``) or an order number (``123-4567890``) is judged as
the whole it is. From each block only the windows whose digit count a card or phone number
starting that way can have are tried (found by their running digit count, not by walking), and
windows span at most ``MAX_BLOCKS`` blocks: each block costs a bounded number of steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from case_model.patterns import compile_scanner
from case_model.pii.banking import card_lengths, is_card_number
from case_model.pii.kinds import CARD, PHONE
from case_model.pii.phones import KEYWORD_WINDOW, Budget, Run, is_phone_number, phone_lengths
from case_model.pii.spans import glued, replace_spans

_RUN = compile_scanner(r"[+(]?[0-9][0-9./() \t-]*")
_BLOCK = compile_scanner(r"[^ \t]+")
MAX_BLOCKS = 8
_NO_DIGITS = str.maketrans("", "", "0123456789")
_NO_SEPARATORS = str.maketrans("", "", "+()./-\t ")


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    digits: str


def _blocks(text: str, start: int, end: int) -> list[_Block]:
    """The run's blocks holding digits, trimmed of sentence punctuation (``1234.`` -> ``1234``)."""
    blocks = []
    for match in _BLOCK.finditer(text, start, end):
        first, last = match.span()
        while first < last and text[first] in ".-/)":
            first += 1
        while last > first and text[last - 1] in ".-/(":
            last -= 1
        digits = text[first:last].translate(_NO_SEPARATORS)
        if digits:
            blocks.append(_Block(first, last, digits))
    return blocks


def _kind(text: str, first: _Block, last: _Block, digits: str, count: int, budget: Budget) -> str | None:
    """CARD, PHONE or None for the window from ``first`` to ``last`` (``count`` blocks)."""
    window = text[first.start : last.end]
    separators = set(window.translate(_NO_DIGITS))
    if separators <= {" ", "-"} and is_card_number(digits):
        return CARD
    if "." in separators and separators - {"."}:  # dots only in dotted numbers (01.23.45.67.89)
        return None
    context = text[max(0, first.start - KEYWORD_WINDOW) : first.start].lower()
    if is_phone_number(Run(window, digits, count, context), budget):
        return PHONE
    return None


def _window_lengths(first: _Block, text: str) -> list[int]:
    """Digit counts a card or phone number starting with this block can have, longest first."""
    return sorted({*card_lengths(first.digits), *phone_lengths(text[first.start], first.digits)}, reverse=True)


def _spans(text: str, budget: Budget) -> Iterator[tuple[int, int, str]]:
    for run in _RUN.finditer(text):
        blocks = _blocks(text, *run.span())
        ends = [0]  # digits in blocks[:k]
        for block in blocks:
            ends.append(ends[-1] + len(block.digits))
        block_ending_at = {total: k - 1 for k, total in enumerate(ends) if k}
        last_usable = len(blocks) - 1 - (1 if blocks and glued(text, blocks[-1].end) else 0)
        i = 1 if blocks and glued(text, blocks[0].start - 1) else 0
        while i < len(blocks):
            found = _longest_window(text, blocks, i, ends, block_ending_at, last_usable, budget)
            if found is None:
                i += 1
                continue
            j, kind = found
            yield blocks[i].start, blocks[j].end, kind
            i = j + 1


def _longest_window(
    text: str,
    blocks: list[_Block],
    i: int,
    ends: list[int],
    block_ending_at: dict[int, int],
    last_usable: int,
    budget: Budget,
) -> tuple[int, str] | None:
    """The longest window starting at block ``i`` that is a card or phone number."""
    for length in _window_lengths(blocks[i], text):
        j = block_ending_at.get(ends[i] + length)
        if j is None or j > last_usable or j - i >= MAX_BLOCKS:
            continue
        digits = "".join(block.digits for block in blocks[i : j + 1])
        kind = _kind(text, blocks[i], blocks[j], digits, j - i + 1, budget)
        if kind:
            return j, kind
    return None


def mask_numbers(text: str, budget: Budget) -> str:
    """Card numbers (Luhn-checked) and phone numbers (libphonenumber-checked)."""
    return replace_spans(text, _spans(text, budget))
