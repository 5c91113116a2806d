"""Refuse request bodies over a configured size with 413 and a V2 error, without buffering them.

Starlette's own body limiter answers in plain text; the CRM expects ``{"error": ...}``. A body
that announces its length is refused before any of it is processed; a chunked body is counted as
it arrives and refused when it crosses the limit, so neither can make the server buffer more
than the limit.

The refused body is still read, and discarded, before the answer: a client that writes its whole
body before it reads (Python's urllib, many batch scripts) would otherwise get a connection reset
instead of the 413, since closing a socket with unread data resets it. Reading is bounded by
``DRAIN_LIMIT_BYTES``; past that the connection is closed, and such a client sees a reset.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from case_serving.asgi_answers import send_error
from case_serving.refusals import too_large

#: Most bytes of a refused body read and thrown away so that the 413 reaches the client: loopback
#: and cluster links read 64 MiB in well under a second, and no CRM sends more by mistake.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    """A chunked body crossed the limit while it was being read."""


async def _discard_body(receive: Receive, already: int = 0) -> None:
    """Read the rest of the request body and drop it, up to ``DRAIN_LIMIT_BYTES`` in all."""
    discarded = already
    while discarded <= DRAIN_LIMIT_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        discarded += len(message.get("body", b""))


async def _refuse(send: Send, limit: int, size: int | None) -> None:
    await send_error(send, 413, str(too_large(limit, size)), [(b"connection", b"close")])


def announced_length(headers: Mapping[bytes, bytes]) -> int | None:
    """The body length a request announces (``Content-Length``), if it announces one."""
    length = headers.get(b"content-length")
    return int(length) if length is not None and length.isdigit() else None


async def refuse_announced(headers: Mapping[bytes, bytes], receive: Receive, send: Send, limit: int, size: int) -> None:
    """413 for a body that announced ``size`` bytes, over ``limit``: read and dropped first (see
    the module's docstring), unless the client waits for "100 Continue" and has sent nothing yet,
    or the body is too large to be worth reading."""
    if headers.get(b"expect", b"").lower() != b"100-continue" and size <= DRAIN_LIMIT_BYTES:
        await _discard_body(receive)
    await _refuse(send, limit, size)


async def refuse_read(receive: Receive, send: Send, limit: int, received: int) -> None:
    """413 for a body that crossed ``limit`` while it was read (``received`` bytes so far)."""
    await _discard_body(receive, received)
    await _refuse(send, limit, None)


class BodyLimitMiddleware:
    """ASGI middleware answering 413 for bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, by_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Smaller limits of some paths (exact): a route whose items are small is bounded by what
        #: its item limit needs, not by the largest body any route takes.
        self.by_path = dict(by_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.max_bytes)
        headers = dict(scope["headers"])
        length = announced_length(headers)
        if length is not None and length > limit:
            await refuse_announced(headers, receive, send, limit, length)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await refuse_read(receive, send, limit, received)
