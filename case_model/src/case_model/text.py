"""Text steps applied to a case log before it is classified.

Online (transformer) and batch (Ray) call :func:`clean_text` from this very module, so a case is
cleaned identically wherever it is scored. Every step is a pure function of its input: no state,
no randomness, no I/O, and none of them raises on any ``str``. Every step takes time linear in
its input (see :mod:`case_model.patterns`): customer text is untrusted.
"""

from __future__ import annotations

import unicodedata

from case_model.markup import strip_html
from case_model.patterns import NOT_SPACE, Pattern, any_of, compile_pattern
from case_model.pii import mask_pii

#: Cleaned texts longer than this are cut; the model saw no longer texts in training either.
DEFAULT_MAX_CHARS = 4000
#: How much of a raw case log the text steps read, per character of the cap: markup, quoted
#: replies and whitespace shrink a text, so a generous multiple; a case longer than that is cut
#: before any step runs (all steps over a 1 MB log took 200 ms, now ~7 ms at the default cap).
RAW_CHARS_PER_CAP = 8


# Whitespace within a line: the patterns below find whole lines in a multi-line text at once.
_S = r"[\t\x0b\x0c\r \p{Z}]"


def _line_pattern(*alternatives: str, closing: str = "") -> Pattern:
    """Lines that are one of ``alternatives`` (then ``closing``), whitespace around them allowed.

    One search over the whole text finds them: a per-line call would pay RE2's per-call cost once
    per line (a case of 30,000 blank lines took 160 ms that way).
    """
    return compile_pattern(rf"(?m)^{_S}*{any_of(*alternatives)}{closing}{_S}*$", ignore_case=True)


# Lines that open a quoted reply or a forwarded message, in the languages the CRM sees.
_REPLY_HEADERS = (
    rf"-{{2,}}{_S}*(?:original{_S}+message|forwarded{_S}+message|ursprüngliche{_S}+nachricht"
    rf"|message{_S}+d'origine|mensaje{_S}+original){_S}*-{{2,}}",
    rf"begin{_S}+forwarded{_S}+message:?",
    rf"on{_S}.{{4,120}}{_S}wrote:",
    rf"am{_S}.{{4,120}}{_S}schrieb.{{0,40}}:",
    rf"le{_S}.{{4,120}}{_S}a{_S}+écrit{_S}*:",
    rf"el{_S}.{{4,120}}{_S}escribió{_S}*:",
    rf"(?:from|von|de){_S}?:{_S}.*(?:@|\[EMAIL\]).*",
)
_REPLY_HEADER = _line_pattern(*_REPLY_HEADERS)
# A forwarded message's header block: the header line and its fields, dropped together.
_FORWARD_HEADER = _line_pattern(
    *_REPLY_HEADERS, rf"(?:sent|to|cc|subject|date|gesendet|an|betreff|envoyé|à|objet){_S}*:.*"
)
_SIGN_OFF = _line_pattern(
    rf"(?:(?:best|kind|warm){_S}*)?regards",
    rf"thanks(?:{_S}+(?:again|in{_S}+advance))?",
    rf"thank{_S}+you",
    rf"many{_S}+thanks",
    "cheers",
    "sincerely",
    "br",
    rf"mit{_S}+freundlichen{_S}+grüßen",
    rf"viele{_S}+grüße",
    "gruß",
    "cordialement",
    rf"bien{_S}+à{_S}+vous",
    rf"saludos(?:{_S}+cordiales)?",
    "atentamente",
    rf"cordiali{_S}+saluti",
    rf"distinti{_S}+saluti",
    "atenciosamente",
    "cumprimentos",
    rf"met{_S}+vriendelijke{_S}+groet(?:en)?",
    rf"sent{_S}+from{_S}+my{_S}+{NOT_SPACE}.*",
    closing=rf"{_S}*[,.!]?",
)
#: A sign-off starts a signature only if at most this many short lines follow it.
_MAX_SIGNATURE_LINES = 6
_MAX_SIGNATURE_LINE_CHARS = 80
_ZERO_WIDTH_KEEP = frozenset({"\n", "\t"})
_ASCII_CONTROL = str.maketrans("", "", "".join(map(chr, [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])))


def normalize_unicode(text: str) -> str:
    """NFKC-normalise and drop control, format and zero-width characters (newlines and tabs stay).

    Full-width letters, ligatures and invisible characters (zero-width spaces, bidi overrides)
    would otherwise split one word into several features, or hide words from the PII masker.
    """
    if text.isascii():  # the common case, ten times cheaper: NFKC changes no ASCII text
        return text.translate(_ASCII_CONTROL)
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        ch for ch in text if ch in _ZERO_WIDTH_KEEP or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_signature_delimiter(line: str) -> bool:
    """``--`` (the e-mail signature delimiter) or a rule of five or more underscores."""
    stripped = line.strip()
    return stripped == "--" or (len(stripped) >= 5 and not stripped.strip("_"))


def strip_quoted(text: str) -> str:
    """Drop quoted replies, forwarded-message headers and signatures; keep the newest message.

    A case log is usually an e-mail thread: the customer's latest words come first and the older
    messages below repeat text already classified. When nothing precedes a reply header (a bare
    forward), the header lines alone are dropped so the forwarded body is kept.
    """
    lines = [line for line in text.split("\n") if not _is_quoted(line)]
    body = "\n".join(lines)
    header = _REPLY_HEADER.search(body)
    if header:
        index = body.count("\n", 0, header.start())
        if any(previous.strip() for previous in lines[:index]):
            lines = lines[:index]
        else:
            dropped = _matching_lines(_FORWARD_HEADER, body)
            lines = [line for number, line in enumerate(lines) if number not in dropped]
    return "\n".join(_strip_signature(lines))


def _matching_lines(pattern: Pattern, body: str) -> set[int]:
    """Numbers of the lines of ``body`` that ``pattern`` (a :func:`_line_pattern`) matches."""
    numbers, line, counted = set(), 0, 0
    for match in pattern.finditer(body):
        line += body.count("\n", counted, match.start())
        counted = match.start()
        numbers.add(line)
    return numbers


def _strip_signature(lines: list[str]) -> list[str]:
    """Cut at the signature delimiter, or at a sign-off followed by a few short lines.

    What follows each line is summed up once, from the end, so a text of many sign-off lines
    costs one pass (it was one pass per sign-off line).
    """
    followers = [0] * (len(lines) + 1)  # non-blank lines after line i
    all_short = [True] * (len(lines) + 1)  # every non-blank line after line i is short
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        blank = not line.strip()
        followers[index] = followers[index + 1] + (0 if blank else 1)
        all_short[index] = all_short[index + 1] and (blank or len(line) <= _MAX_SIGNATURE_LINE_CHARS)
    sign_offs = _matching_lines(_SIGN_OFF, "\n".join(lines))
    for index, line in enumerate(lines):
        if _is_signature_delimiter(line):
            return lines[:index]
        if index in sign_offs and followers[index + 1] <= _MAX_SIGNATURE_LINES and all_short[index + 1]:
            return lines[:index]
    return lines


def collapse_whitespace(text: str) -> str:
    """Fold every run of whitespace into one space and trim the ends."""
    return " ".join(text.split())


def cap_length(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, at the last space before the limit.

    Deterministic, so a 1 MB case is always cut the same way, and idempotent.
    """
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:
        cut = cut[:space]
    return cut.rstrip()


def bound_raw(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The part of a raw case log the text steps read: its first ``RAW_CHARS_PER_CAP * max_chars``
    characters. Deterministic, so a huge case is always cut the same way."""
    limit = RAW_CHARS_PER_CAP * max_chars
    return without_lone_surrogates(text if len(text) <= limit else text[:limit])


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (not Unicode text; a Python caller can pass one, JSON and
    UTF-8 cannot) replaced by U+FFFD: RE2 and every store encode to UTF-8 and would fail on it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Apply every text step, in order: HTML, unicode, quotes/signatures, whitespace, PII, length.

    Args:
        text: The raw case log as the CRM sent it.
        max_chars: Length cap of the cleaned text.

    Returns:
        The text the classifier sees; ``""`` when nothing is left.
    """
    # Unicode first (full-width brackets become markup), again after HTML (entities may decode
    # to control characters).
    text = normalize_unicode(strip_html(normalize_unicode(bound_raw(text, max_chars))))
    text = strip_quoted(text)
    # Masking sees the text as it will be stored: whitespace folded first, so a second pass over
    # a cleaned text finds nothing new (line breaks would otherwise hide matches from the first).
    text = mask_pii(collapse_whitespace(text))
    return cap_length(text, max_chars)
