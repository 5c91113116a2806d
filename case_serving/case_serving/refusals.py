"""How every service refuses a request: an exception that carries its status, and a short message.

A service raises a :class:`Refusal` subclass wherever it finds the problem; one handler per HTTP
framework (:func:`case_serving.http_errors.install` for FastAPI and Starlette, the language
service's for tornado) answers it as ``{"error": <message>}`` with the class's status and headers,
so no status is ever picked from a message's text. Messages stay short whatever a request held: a
few offenders, each cut short, and a count (refusals are logged and returned; a request that names
a megabyte of unknown fields must not turn into a megabyte log line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

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


class Refusal(Exception):
    """A request refused: ``status`` and ``headers`` are the answer's, ``str(self)`` its message."""

    status: ClassVar[int] = 400

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})


class Invalid(Refusal):
    """A request that does not say something the service can do (a malformed body, an unknown
    label, a parameter no store keeps)."""

    status = 400


class TooLarge(Refusal):
    """A body, or a count of items, over a limit."""

    status = 413


class Throttled(Refusal):
    """Past a limit of calls or items per time; ``retry_after`` says when to come back."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry-after": str(retry_after)})


class Unavailable(Refusal):
    """What the answer needs is not there yet, or not now; ``retry_after`` when it is known."""

    status = 503

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message, {"retry-after": str(retry_after)} if retry_after is not None else None)


def too_large(limit: int, size: int | None) -> TooLarge:
    """The refusal of a body over ``limit`` bytes (``size`` when it announced it), in every service."""
    told = f"request body of {size} bytes" if size is not None else "request body"
    return TooLarge(f"{told} exceeds the limit of {limit} bytes")
