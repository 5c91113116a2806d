"""Model versions are not addressable: each server serves one version of one model.

The V2 protocol lets a client name a version (``/v2/models/<m>/versions/<v>/...`` or KServe's
``?model_version=``); KServe answers those with 501. Here they get a 404 that says what to do:
the served version is in the model metadata and in every response's ``model_version``, and a
rollout (not the URL) chooses it.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from case_serving.limits import SHOWN_CHARS

_VERSIONED_PATH = re.compile(r"^/v2/models/([^/]+)/versions/")


def _named_version(scope: Scope) -> str | None:
    """The model a request addresses by version, or None when it names no version."""
    path: str = scope["path"]
    if not path.startswith("/v2/models/"):
        return None
    match = _VERSIONED_PATH.match(path)
    if match:
        return match.group(1)[:SHOWN_CHARS]
    if b"model_version=" in scope.get("query_string", b""):
        return path.split("/")[3][:SHOWN_CHARS]
    return None


class VersionlessMiddleware:
    """Answer version-addressed requests with a V2 404 before they reach KServe's 501."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = _named_version(scope) if scope["type"] == "http" else None
        if model is None:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {"error": f"model versions are not addressable: use /v2/models/{model} (its metadata names the version)"}
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})
