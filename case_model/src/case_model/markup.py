"""The visible text of an HTML case log, found in one linear pass.

E-mail cases often arrive as HTML; tags and entities are noise to the classifier and can hide PII
from the masker (``john&#64;example.com``), so they go first. The standard library's
``html.parser`` was used before: on Python 3.11 some inputs make it quadratic (an unclosed tag
followed by a long run of spaces cost seconds), and it is a full parser where a tag stripper is
enough. Here one RE2 scan finds the markup tokens, and comments and skipped elements are passed
over with ``str.find``: every character is read a bounded number of times.
"""

from __future__ import annotations

import html

from case_model.patterns import SPACE, compile_pattern

# A tag name: letters, digits, hyphens (custom elements) and colons (Outlook's <o:p>); not the dots
# and at signs of "<john.miller@example.com>", which is an address, not a tag.
_NAME = "[A-Za-z][A-Za-z0-9:-]*"
# Worth parsing at all: something tag-like or an entity.
_HINT = compile_pattern(rf"<{SPACE}*/?{SPACE}*{_NAME}(?:{SPACE}[^<>]*)?/?{SPACE}*>|&[#A-Za-z0-9]+;|<!--|<[!?][A-Za-z]")
# A markup token: a comment opener (its end is found with str.find), a start or end tag (a name
# right after the bracket, as browsers require; a quoted attribute value may hold '>' but no
# markup token holds '<', so a partial match always dies at the next '<'), a declaration or a
# processing instruction.
_TOKEN = compile_pattern(
    r"<!--"
    rf"|<(/?)({_NAME})((?:[\s/](?:[^<>\"']|\"[^\"<]*\"|'[^'<]*'|[\"'])*)?)>"
    r"|<[!?][^<>]*>"
)
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "blockquote", "hr", "ul", "ol"})
# Elements whose content is not visible text. <body> ends a <head> that was never closed.
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})


def has_markup(text: str) -> bool:
    """Whether ``text`` holds anything tag- or entity-like (plain text skips the stripping)."""
    return _HINT.search(text) is not None


def strip_html(text: str) -> str:
    """Return the visible text of an HTML case log; plain text passes through unchanged.

    Tags and declarations are dropped, block-level tags become line breaks, the content of
    ``script``, ``style``, ``head`` and ``title`` is dropped, entities are decoded.
    """
    if not has_markup(text):
        return text
    parts: list[str] = []
    position = 0  # everything before it is consumed
    skipping: str | None = None  # the element whose content is being dropped
    for token in _TOKEN.finditer(text):
        start, end = token.span()
        if start < position:  # inside a comment already passed over
            continue
        if skipping is None:
            parts.append(html.unescape(text[position:start]))
        position = end
        if token.group(0) == "<!--":
            close = text.find("-->", end)
            position = len(text) if close < 0 else close + 3
            continue
        name = (token.group(2) or "").lower()
        if not name:  # a declaration or processing instruction
            continue
        closing = bool(token.group(1))
        if skipping is not None:
            if (closing and name == skipping) or (skipping == "head" and name == "body"):
                skipping = None
            continue
        if name in _SKIP_TAGS and not closing and not token.group(3).rstrip().endswith("/"):
            skipping = name
        elif name in _BLOCK_TAGS:
            self_closing = not closing and token.group(3).rstrip().endswith("/")
            parts.append("\n\n" if self_closing else "\n")
    if skipping is None:
        parts.append(html.unescape(text[position:]))
    return "".join(parts)
