"""Replacing spans that a masker found by looking past its candidate's match."""

from __future__ import annotations

from collections.abc import Iterable


def replace_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """Replace each ``(start, end, replacement)`` of ``text``; spans come in order, not overlapping."""
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in spans:
        pieces += (text[cursor:start], replacement)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def glued(text: str, index: int) -> bool:
    """Whether ``text[index]`` is a word character, so a number next to it belongs to a word."""
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")
