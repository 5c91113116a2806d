"""What counts as a word of natural language in a case text, for the filter and the language gate.

A word is a run of two or more letters standing on its own: no digits or underscores glued to it
(``fan2`` is a code, not a word) and not a placeholder such as ``[EMAIL]``. The filter verdict
needs enough words to classify a case, the language gate enough to detect a language; both count
them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from case_model.patterns import compile_pattern, compile_scanner


@dataclass(frozen=True)
class WordFloor:
    """The fewest words, and letters in them, a text needs for something to be done with it."""

    words: int
    letters: int

    def met_by(self, found: list[str]) -> bool:
        """Whether ``found`` (the words of a text) reaches this floor."""
        return len(found) >= self.words and sum(map(len, found)) >= self.letters


#: Enough to classify: fewer leaves a confident-looking label on nothing (the filter verdict).
TO_CLASSIFY = WordFloor(words=3, letters=12)
#: Enough to detect a language: with fewer, every detector only guesses (the language gate).
TO_DETECT = WordFloor(words=2, letters=8)

# Every run of word characters, with a bracket glued to either end (placeholders), in one scan.
_TOKEN = compile_scanner(r"\[?\w+\]?")
_URL = compile_pattern(r"(?:https?://|www\.)[^\s\p{Z}]*", ignore_case=True)


def words(text: str) -> list[str]:
    """The words of ``text``, in order (see the module docstring)."""
    return [token for token in _TOKEN.findall(text) if len(token) >= 2 and token.isalpha()]


def words_outside_urls(text: str) -> list[str]:
    """The words of ``text`` once URLs are taken out (``www.example.com`` holds no real words)."""
    return words(_URL.sub(" ", text))
