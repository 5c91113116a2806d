"""The HTTP face of :class:`case_serving.access.Gate`: 401, 403 and 429 as ``{"error": ...}``.

Two shapes, one set of answers:

- :class:`BearerGateMiddleware`, plain ASGI in front of a KServe app, where the routes are
  KServe's and ours alike: every request the ``protected`` predicate picks must pass the gate.
  It denies by default (every method but GET and HEAD, which read no case data), so a route
  KServe adds later is covered without anyone remembering it.
- :func:`requires`, a FastAPI dependency per route, for the feedback service, where each route
  has its own roles and the handler needs the principal (the audit record names it).

A 401 carries ``WWW-Authenticate: Bearer`` (with ``error="invalid_token"`` when a token was sent,
RFC 6750), a 429 ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from case_serving.access import Forbidden, Gate, RateLimited
from case_serving.asgi_answers import header_pairs, send_error
from case_serving.tokens import Principal, TokenRefused

_AUTHORIZATION = b"authorization"


def refusal(error: Exception, token_sent: bool) -> tuple[int, dict[str, str]]:
    """The status and headers answering one of the gate's refusals."""
    if isinstance(error, TokenRefused):
        challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
        return 401, {"WWW-Authenticate": challenge}
    if isinstance(error, RateLimited):
        return 429, {"Retry-After": str(error.retry_after)}
    return 403, {}


def authorization(scope: Scope) -> str | None:
    """The ``Authorization`` header of an ASGI request, if it has one."""
    for name, value in scope["headers"]:
        if name == _AUTHORIZATION:
            return str(value.decode("latin-1"))
    return None


def writes(scope: Scope) -> bool:
    """Requests that may carry or return case data: every method but GET and HEAD."""
    return scope["method"] not in ("GET", "HEAD")


class BearerGateMiddleware:
    """Pass only requests whose token's roles include one of ``roles`` (for ``protected`` ones)."""

    def __init__(
        self, app: ASGIApp, gate: Gate, roles: Collection[str], protected: Callable[[Scope], bool] = writes
    ) -> None:
        self.app = app
        self.gate = gate
        self.roles = frozenset(roles)
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.protected(scope):
            await self.app(scope, receive, send)
            return
        header = authorization(scope)
        try:
            scope.setdefault("state", {})["principal"] = await self.gate.admit(header, self.roles)
        except (TokenRefused, Forbidden, RateLimited) as error:
            await send_refusal(send, error, header is not None)
            return
        await self.app(scope, receive, send)


async def send_refusal(send: Send, error: Exception, token_sent: bool) -> None:
    """Answer one of the gate's refusals at the ASGI level (401, 403 or 429 with its headers)."""
    status, headers = refusal(error, token_sent)
    await send_error(send, status, str(error), header_pairs(headers))


#: Declares the scheme in the OpenAPI document (clients and fuzzers see that a token is wanted);
#: the header itself is checked by the gate, which refuses with our own answers.
_BEARER = Depends(HTTPBearer(auto_error=False, bearerFormat="JWT", description="A JWT of the trusted issuer."))


def requires(gate: Gate, roles: Collection[str]) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency: the caller's principal, when one of ``roles`` is its (see :func:`install`)."""
    allowed = frozenset(roles)

    async def principal(request: Request, _: HTTPAuthorizationCredentials | None = _BEARER) -> Principal:
        return await gate.admit(request.headers.get("authorization"), allowed)

    return principal


async def _refused(request: Request, error: Exception) -> JSONResponse:
    status, headers = refusal(error, "authorization" in request.headers)
    return JSONResponse({"error": str(error)}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer the gate's refusals raised by :func:`requires` dependencies."""
    for error in (TokenRefused, Forbidden, RateLimited):
        app.add_exception_handler(error, _refused)
