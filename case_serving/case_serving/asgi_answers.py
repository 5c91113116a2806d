"""Answering at the ASGI level, before any framework: one JSON body, sent in two messages.

The middlewares that refuse early (the token gate, the body limit, readiness, version routes) and
the lean infer route (:mod:`case_serving.infer_front`) answer without building a Starlette
``Response``; they all write their answer here, so the V2 error shape ``{"error": ...}`` and its
headers have one home at this level.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:  # annotations only: the language service (tornado, no Starlette) imports readiness
    from starlette.types import Send

_JSON = (b"content-type", b"application/json")


async def send_json(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send ``body`` (JSON already encoded) with ``status`` and ``headers`` besides the content ones."""
    raw = [_JSON, (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send the V2 error ``{"error": message}`` with ``status``."""
    await send_json(send, status, orjson.dumps({"error": message}), headers)


def header_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """``{"Retry-After": "3"}`` as ASGI's raw header pairs (names lower-cased)."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
