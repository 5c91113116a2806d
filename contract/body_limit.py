"""Refuse request bodies over a configured size with 413 and a V2 error, before reading them.

Starlette's own body limiter answers in plain text; the CRM expects ``{"error": ...}``. A body
that announces its length is refused before a byte of it is read; a chunked body is counted as
it arrives and refused when it crosses the limit, so neither can make the server buffer more
than the limit.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: KServe's own default for gRPC messages (``--grpc_max_receive_message_length``); REST matches it.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyTooLarge(Exception):
    """A chunked body crossed the limit while it was being read."""


def _message(limit: int, size: int | None) -> bytes:
    told = f"request body of {size} bytes" if size is not None else "request body"
    return orjson.dumps({"error": f"{told} exceeds the limit of {limit} bytes"})


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

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _refuse(send, self.max_bytes, int(length))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
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
            await _refuse(send, self.max_bytes, None)
