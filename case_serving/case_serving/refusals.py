"""Refusal messages stay short whatever a request held: a few offenders, each cut short, and a count.

Refusals are logged and returned; a request that names a megabyte of unknown fields must not turn
into a megabyte log line. Every service builds its refusals with these.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Offenders named in one refusal, and characters shown of each.
NAMED_OFFENDERS = 3
SHOWN_CHARS = 40


def shown(value: object) -> str:
    """``value`` as a refusal shows it: repr, cut to ``SHOWN_CHARS`` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def name_offenders(values: Sequence[object]) -> str:
    """The first few offenders, each cut short, and how many more there are."""
    named = ", ".join(shown(value) for value in values[:NAMED_OFFENDERS])
    rest = len(values) - NAMED_OFFENDERS
    return f"{named} and {rest} more" if rest > 0 else named
