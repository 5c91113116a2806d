"""The V2 ``infer`` route of the served model, answered in one ASGI layer ahead of the FastAPI app.

Why: under load the transformer spent about a fifth of its CPU in the layers between the socket
and our route: FastAPI's and Starlette's middleware (errors, exceptions, exit stacks, telemetry),
the router, Request and Response objects, and our four middlewares, each re-reading the scope
(py-spy at c=32, ``docs/benchmarks.md``). This layer is the one the server runs: a request for
``POST /v2/models/<name>/infer`` is answered here, every other request (another path or method,
another model, a version named in the query) goes on to the app unchanged.

It keeps every guarantee the middlewares give that route, in the same order:

1. the token gate (401/403/429, ``access_http``), when the service has one;
2. the body limit: an announced length over it is refused with 413 before anything is read, a
   chunked body is counted as it arrives and refused when it crosses it (``body_limit``);
3. the route's own checks before the body (media type 415, request id header, readiness 503);
4. decode, the model's lifecycle and encode, shared with the app's route (``rest_infer.answer``);
5. errors answered by the app's own exception handlers, so every refusal has the status and
   body it has on the app's route; an unexpected error is logged and answered 500.

Readiness (``ReadinessGate``) guards only the readiness paths and version routes only versioned
addresses; neither is this path, whose unversioned form without a query is the only one served
here. KServe's own middlewares of the app are not run for it either: ``TimingMiddleware`` (left
out already while ``kserve.trace`` is silent, ``kserve_adapter``) and the access logger of
``--access_log_format`` (whose package, asgi-logger, is not in our images); Uvicorn's access log
(``--access-log``) still lists every request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Collection

from kserve import Model
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from case_serving import rest_infer
from case_serving.access import Forbidden, Gate, RateLimited
from case_serving.access_http import authorization, send_refusal
from case_serving.asgi_answers import header_pairs, send_json
from case_serving.body_limit import announced_length, refuse_announced, refuse_read
from case_serving.limits import RequestLimits
from case_serving.tokens import TokenRefused

log = logging.getLogger("case_serving")
_REFUSED = (TokenRefused, Forbidden, RateLimited)


class ClientGone(Exception):
    """The client disconnected before its body was complete: there is nobody to answer."""


class InferFront:
    """Answers ``POST /v2/models/<model>/infer`` itself; passes everything else to ``app``.

    Args:
        app: The service's FastAPI app (KServe's routes and ours, with their middlewares); its
            exception handlers answer this route's errors too.
        model: The served model.
        limits: Its request limits.
        max_body_bytes: The largest body accepted (413 above).
        gate: The token gate and the roles it admits to this route, or None (no tokens).
    """

    def __init__(
        self,
        app: ASGIApp,
        model: Model,
        limits: RequestLimits,
        max_body_bytes: int,
        gate: tuple[Gate, Collection[str]] | None = None,
    ) -> None:
        self.app = app
        self.model = model
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.gate = gate[0] if gate else None
        self.roles = frozenset(gate[1]) if gate else frozenset()
        self.path = f"/v2/models/{model.name}/infer"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or scope.get("query_string")  # a version may be named there, encoded or not: VersionRoutes reads it
        ):
            await self.app(scope, receive, send)
            return
        raw = scope["headers"]
        if self.gate is not None:
            token = authorization(scope)
            try:
                scope.setdefault("state", {})["principal"] = await self.gate.admit(token, self.roles)
            except _REFUSED as error:
                await send_refusal(send, error, token is not None)
                return
            except Exception as error:  # noqa: BLE001 - the app's 500, as the gate's middleware gets
                await self._answer_error(scope, receive, send, error)
                return
        by_name = dict(raw)
        announced = announced_length(by_name)
        if announced is not None and announced > self.max_body_bytes:
            await refuse_announced(by_name, receive, send, self.max_body_bytes, announced)
            return
        # As Starlette's Headers: the first of repeated names counts.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(raw)}
        try:
            json_length = rest_infer.check_headers(self.model, self.limits, headers)
            body = await self._body(receive, send)
            if body is None:
                return
            answer, extra = await rest_infer.answer(self.model, self.limits, headers, body, json_length)
        except ClientGone:
            return
        except Exception as error:  # noqa: BLE001 - answered by the app's handler for its class
            await self._answer_error(scope, receive, send, error)
            return
        await send_json(send, 200, answer, header_pairs(extra))

    async def _body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a body over the limit was refused (413 sent)."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                await refuse_read(receive, send, self.max_body_bytes, received)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _answer_error(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """Answer ``error`` with the app's handler for its class (as Starlette looks it up)."""
        handlers = getattr(self.app, "exception_handlers", {})
        handler = next((handlers[kind] for kind in type(error).__mro__ if kind in handlers), None)
        if handler is None or handler is handlers.get(Exception):
            log.error("infer failed", exc_info=error)
        if handler is None:
            await send_json(send, 500, b'{"error":"internal server error"}')
            return
        response = handler(Request(scope, receive), error)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)
