"""Hostile case texts, by family: the shapes that make backtracking patterns and naive scans blow up.

Each family builds a text of exactly ``n`` characters. The families cover, for every pattern the
text steps apply: runs of each character class a pattern repeats, a keyword followed by such a
run, runs of separators between short groups, unclosed markers, and the full-width forms that
NFKC turns into markup. Used by the linear-time guard (tests/case_model), the health test with
real processes (tests/reliability) and the benchmark (bench).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _prefixed(prefix: str, unit: str, suffix: str = "") -> Callable[[int], str]:
    def build(n: int) -> str:
        body = n - len(prefix) - len(suffix)
        return prefix + (unit * (body // len(unit) + 1))[:body] + suffix

    return build


def _base64_screenshot(n: int) -> str:
    blob = base64.b64encode(bytes(range(256)) * (n // 340 + 2)).decode()
    return ("data:image/png;base64," + blob)[:n]


#: name -> builder of a text of n characters.
FAMILIES: dict[str, Callable[[int], str]] = {
    # Runs of one character class.
    "spaces": _prefixed("x", " ", "x"),
    "tabs": _prefixed("x", "\t", "x"),
    "newlines": _prefixed("x", "\n", "x"),
    "digits": _repeat("1"),
    "letters": _repeat("a"),
    "unicode letters": _repeat("é"),
    "hex": _repeat("a1f"),
    "dots": _repeat("."),
    "dashes": _repeat("-"),
    "underscores": _repeat("_"),
    "at signs": _repeat("@"),
    "angle brackets": _repeat("<"),
    "ampersands": _repeat("&"),
    "square brackets": _repeat("["),
    "plus signs": _repeat("+"),
    "e-mail local part": _repeat("a.b+c"),
    "zero-width": _repeat("\u200b"),
    # A keyword followed by a run.
    "serial keyword + spaces": _prefixed("serial", " ", "x"),
    "service tag + spaces and colon": _prefixed("Service Tag", " ", ": x"),
    "sign-off + spaces": _prefixed("regards", " ", "x"),
    "sent from my + spaces": _prefixed("sent from my x", " ", "y"),
    "from: + at signs": _prefixed("From: ", "@", "x"),
    "on ... wrote": _prefixed("On ", "x ", " wrote"),
    "phone keyword + digits": _prefixed("Call me on ", "1", "a"),
    "password + spaces": _prefixed("password", " ", "x"),
    "https + letters": _prefixed("https://", "a"),
    "url + token-like path": _prefixed("https://x.example/", "a1/"),
    # Separators between short groups.
    "digit groups with spaces": _repeat("1 "),
    "digit groups with dashes": _repeat("12-"),
    "digit groups with dots": _repeat("1."),
    "digit groups with slashes": _repeat("1/"),
    "bracketed digits": _repeat("(1) "),
    "plus and digits": _repeat("+1 "),
    "colon groups": _repeat("a:"),
    "dotted quads": _repeat("1.1.1.1."),
    "IBAN starts": _repeat("DE12 "),
    "phone-shaped numbers": _repeat("0171 1234560 x "),
    "card-shaped numbers": _repeat("4111 1111 1111 1112 "),
    "obfuscated e-mail parts": _repeat("anna at x dot "),
    "many sign-off lines": _repeat("thanks\n"),
    "many quoted lines": _repeat("> x\n"),
    "many header lines": _repeat("On Mon x wrote:\n"),
    # Unclosed markers.
    "unclosed tag + spaces": _prefixed("<a", " "),
    "unclosed tags": _repeat("<a "),
    "unclosed comment + tags": _repeat("<!-- <a> "),
    "unclosed attribute quote": _repeat('<a href="'),
    "character reference digits": _prefixed("&#", "1"),
    "script without end": _prefixed("<script>", "x<"),
    # Full-width forms that NFKC turns into markup and separators.
    "full-width tag + ideographic spaces": _prefixed("\uff1c\uff41", "\u3000"),
    "full-width comment openers": _repeat("\uff1c\uff01\uff0d\uff0d"),
    "full-width digits and separators": _repeat("\uff11\uff0d"),
    # What customers really paste.
    "base64 screenshot": _base64_screenshot,
}

#: Plain prose of the same lengths, the baseline the benchmark compares against.
PROSE = _repeat("The battery of my laptop does not charge any more since the last BIOS update. ")


def milliseconds(step: Callable[[str], object], text: str, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``step(text)``, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        step(text)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def costs_at(step: Callable[[str], object], chars: int) -> dict[str, object]:
    """Milliseconds of ``step`` per text of ``chars`` characters: plain prose, the worst family, all."""
    families = {name: round(milliseconds(step, build(chars)), 2) for name, build in FAMILIES.items()}
    worst = max(families, key=families.__getitem__)
    return {
        "chars": chars,
        "plain_ms": round(milliseconds(step, PROSE(chars)), 2),
        "worst_family": worst,
        "worst_ms": families[worst],
        "families_ms": families,
    }
