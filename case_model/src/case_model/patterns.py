"""The one place where patterns matched against customer text are compiled: RE2, linear time.

Python's ``re`` backtracks: a pattern with adjacent or nested quantifiers over the same characters
(``\\s*[:#=]?\\s*``, ``(?:[\\s./-]?\\d{1,5}){3,}``) takes time polynomial or exponential in the
length of a run of those characters, and a single case log made of such a run froze the
transformer for seconds to minutes. Rewriting each pattern with atomic groups and
possessive quantifiers fixes one match attempt, not the search: a search still tries every start
position, which makes any pattern whose match attempt can read far ahead quadratic.

RE2 (``google-re2``) guarantees time linear in the text for one search, whatever the pattern: it
runs an automaton, never backtracks. It has no look-around and no back-references, so boundary
checks that patterns used to express with look-around are done in code on the match, and its
``\\w``/``\\s``/``\\b`` are ASCII-only, so the Unicode classes below stand in for Python's.

One search is linear; a scan that calls search once per match is linear only if each search
reads little beyond its own match. The patterns here are written so that every partial match dies
at the next whitespace, bracket or bounded count of characters; ``tests/case_model/
test_linear_time.py`` measures growth for every pattern family and would catch a pattern that
does not. Everything else the text steps do is plain string scanning.

Scanners that match on every word or digit group of every case (the word tokenizer, the digit-run
finder) would pay the RE2 wrapper's per-match cost (tens of microseconds in Python) thousands of
times per case. They are written in the one shape that cannot backtrack in Python's engine either
(:func:`compile_scanner`) and run there, at a fraction of the cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import re2

#: Python's ``\w`` for ``str``: letters, numbers (all Unicode categories) and the underscore.
WORD = r"[\pL\pN_]"
#: Python's ``\W``.
NOT_WORD = r"[^\pL\pN_]"
#: Python's ``\s`` for ``str``: ASCII whitespace and every Unicode separator.
SPACE = r"[\s\p{Z}]"
#: Python's ``\S``.
NOT_SPACE = r"[^\s\p{Z}]"


class Match(Protocol):
    """What the text steps use of a match (RE2's and Python's alike)."""

    string: str

    def group(self, index: int = 0, /) -> str:
        """The text of group ``index`` (0: the whole match)."""
        ...

    def start(self, index: int = 0, /) -> int:
        """Where group ``index`` starts."""
        ...

    def end(self, index: int = 0, /) -> int:
        """Where group ``index`` ends."""
        ...

    def span(self, index: int = 0, /) -> tuple[int, int]:
        """Start and end of group ``index``."""
        ...


class Pattern(Protocol):
    """What the text steps use of a compiled RE2 pattern (google-re2 ships no type information)."""

    pattern: str

    def search(self, text: str) -> Match | None:
        """The leftmost match, or None."""
        ...

    def match(self, text: str) -> Match | None:
        """A match at the start of ``text``, or None."""
        ...

    def finditer(self, text: str) -> Iterator[Match]:
        """Every non-overlapping match, left to right."""
        ...

    def findall(self, text: str) -> list[Any]:
        """The text of every non-overlapping match."""
        ...

    def sub(self, replacement: str | Callable[[Match], str], text: str) -> str:
        """``text`` with every match replaced."""
        ...


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    """Compile ``pattern`` with RE2 (Perl syntax, UTF-8, leftmost-first like Python's ``re``).

    Args:
        pattern: RE2 syntax; use :data:`WORD`, :data:`SPACE` and :data:`NOT_SPACE` where Python
            would write ``\\w``, ``\\s`` and ``\\S``.
        ignore_case: Case-insensitive matching (Unicode case folding).
    """
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # RE2 would write to stderr; a bad pattern raises at import anyway
    return cast(Pattern, re2.compile(pattern, options))


def any_of(*alternatives: str) -> str:
    """``(?:a|b|...)``: long alternations stay readable one alternative per line."""
    return "(?:" + "|".join(alternatives) + ")"


def compile_scanner(pattern: str) -> re.Pattern[str]:
    """Compile a scanner on Python's engine; only for the shape that is linear there too.

    That shape is a run of one character class (``+``, ``*`` or a bounded ``{m,n}``) with optional
    single characters or zero-width boundaries around it, such as ``\\[?\\w+\\]?`` or
    ``\\b[A-Z0-9]{7}\\b``: at each start the engine consumes the run or fails within a bounded
    number of characters, and a scan resumes after each match. Anything with two quantifiers that
    can match the same characters belongs in :func:`compile_pattern`.
    """
    return re.compile(pattern)
