"""Text steps applied to a case log before it is classified.

Online (transformer) and batch (Ray) call :func:`clean_text` from this very module, so a case is
cleaned identically wherever it is scored. Every step is a pure function of its input: no state,
no randomness, no I/O, and none of them raises on any ``str``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

from case_model.pii import mask_pii

#: Cleaned texts longer than this are cut; the model saw no longer texts in training either.
DEFAULT_MAX_CHARS = 4000
#: How much of a raw case log the text steps read, per character of the cap: markup, quoted
#: replies and whitespace shrink a text, so a generous multiple; a case longer than that is cut
#: before any step runs (all steps over a 1 MB log took 200 ms, now ~7 ms at the default cap).
RAW_CHARS_PER_CAP = 8

_HTML_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?\s*>|&[#a-zA-Z0-9]+;")
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "blockquote", "hr", "ul", "ol"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})

# Lines that open a quoted reply or a forwarded message, in the languages the CRM sees.
_REPLY_HEADER = re.compile(
    r"""^\s*(
        -{2,}\s*(original\s+message|forwarded\s+message|ursprüngliche\s+nachricht|message\s+d'origine|mensaje\s+original)\s*-{2,}
      | begin\s+forwarded\s+message:?
      | on\s.{4,120}\swrote:
      | am\s.{4,120}\sschrieb.{0,40}:
      | le\s.{4,120}\sa\s+écrit\s*:
      | el\s.{4,120}\sescribió\s*:
      | (from|von|de)\s?:\s.*(@|\[EMAIL\]).*
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED_LINE = re.compile(r"^\s*>")
_SIGNATURE_DELIMITER = re.compile(r"^\s*--\s*$|^\s*_{5,}\s*$")
_SIGN_OFF = re.compile(
    r"""^\s*(
        (best|kind|warm)?\s*regards
      | thanks(\s+(again|in\s+advance))?|thank\s+you|many\s+thanks|cheers|sincerely|br
      | mit\s+freundlichen\s+grüßen|viele\s+grüße|gruß
      | cordialement|bien\s+à\s+vous
      | saludos(\s+cordiales)?|atentamente
      | cordiali\s+saluti|distinti\s+saluti
      | atenciosamente|cumprimentos
      | met\s+vriendelijke\s+groet(en)?
      | sent\s+from\s+my\s+\w+.*
    )\s*[,.!]?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
#: A sign-off starts a signature only if at most this many short lines follow it.
_MAX_SIGNATURE_LINES = 6
_ZERO_WIDTH_KEEP = frozenset({"\n", "\t"})
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment, with line breaks where blocks end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Return the visible text of an HTML case log; plain text passes through unchanged.

    E-mail cases often arrive as HTML; tags and entities are noise to the classifier and can hide
    PII from the masker (``john&#64;example.com``), so they go first.
    """
    if not _HTML_HINT.search(text):
        return text
    parser = _TextExtractor()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient, but never let markup crash a case
        return html.unescape(text)
    return html.unescape("".join(parser.parts))


def normalize_unicode(text: str) -> str:
    """NFKC-normalise and drop control, format and zero-width characters (newlines and tabs stay).

    Full-width letters, ligatures and invisible characters (zero-width spaces, bidi overrides)
    would otherwise split one word into several features, or hide words from the PII masker.
    """
    if text.isascii():  # the common case, ten times cheaper: NFKC changes no ASCII text
        return _ASCII_CONTROL.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        ch for ch in text if ch in _ZERO_WIDTH_KEEP or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )


def strip_quoted(text: str) -> str:
    """Drop quoted replies, forwarded-message headers and signatures; keep the newest message.

    A case log is usually an e-mail thread: the customer's latest words come first and the older
    messages below repeat text already classified. When nothing precedes a reply header (a bare
    forward), the header lines alone are dropped so the forwarded body is kept.
    """
    lines = [line for line in text.split("\n") if not _QUOTED_LINE.match(line)]
    for index, line in enumerate(lines):
        if _REPLY_HEADER.match(line):
            if any(previous.strip() for previous in lines[:index]):
                lines = lines[:index]
            else:
                lines = [rest for rest in lines[index:] if not _header_field(rest)]
            break
    return "\n".join(_strip_signature(lines))


def _header_field(line: str) -> bool:
    return bool(_REPLY_HEADER.match(line)) or bool(
        re.match(r"^\s*(sent|to|cc|subject|date|gesendet|an|betreff|envoyé|à|objet)\s*:", line, re.I)
    )


def _strip_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line):
            return lines[:index]
        if _SIGN_OFF.match(line):
            tail = [rest for rest in lines[index + 1 :] if rest.strip()]
            if len(tail) <= _MAX_SIGNATURE_LINES and all(len(rest) <= 80 for rest in tail):
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
    return text if len(text) <= limit else text[:limit]


def clean_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Apply every text step, in order: HTML, unicode, quotes/signatures, PII, whitespace, length.

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
    text = mask_pii(text)
    text = collapse_whitespace(text)
    return cap_length(text, max_chars)
