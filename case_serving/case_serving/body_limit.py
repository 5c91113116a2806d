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

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from case_serving.refusals import too_large

#: Most bytes of a refused body read and thrown away so that the 413 reaches the client: loopback
#: and cluster links read 64 MiB in well under a second, and no CRM sends more by mistake.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    """A chunked body crossed the limit while it was being read."""


def _message(limit: int, size: int | None) -> bytes:
    return orjson.dumps({"error": str(too_large(limit, size))})


async def _discard_body(receive: Receive, already: int = 0) -> None:
    """Read the rest of the request body and drop it, up to ``DRAIN_LIMIT_BYTES`` in all."""
    discarded = already
    while discarded <= DRAIN_LIMIT_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        discarded += len(message.get("body", b""))


async def _refuse(send: Send, limit: int, size: int | None) -> None:
    body = _message(limit, size)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            # A client waiting for "100 Continue" has sent nothing yet: answer at once. So does a
            # body too large to be worth reading.
            if headers.get(b"expect", b"").lower() != b"100-continue" and int(length) <= DRAIN_LIMIT_BYTES:
                await _discard_body(receive)
            await _refuse(send, limit, int(length))
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
            await _discard_body(receive, received)
            await _refuse(send, limit, None)
