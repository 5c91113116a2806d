"""The gRPC face of :class:`case_serving.access.Gate`: the token in the call's metadata.

A server interceptor, so every method is covered unless it is one of the few that read no case
data (health and metadata): ``UNAUTHENTICATED`` for a missing or bad token, ``PERMISSION_DENIED``
for a role that may not call, ``RESOURCE_EXHAUSTED`` with ``retry-after`` trailing metadata past
the caller's rate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import grpc
from grpc import aio

from case_serving.access import Forbidden, Gate, RateLimited
from case_serving.tokens import TokenRefused

_SERVICE = "/inference.GRPCInferenceService/"
#: Methods that read no case data: probes and metadata.
OPEN_METHODS = frozenset(
    _SERVICE + name for name in ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata")
)


def _refusal(error: Exception) -> tuple[grpc.StatusCode, tuple[tuple[str, str], ...]]:
    if isinstance(error, TokenRefused):
        return grpc.StatusCode.UNAUTHENTICATED, (("www-authenticate", "Bearer"),)
    if isinstance(error, RateLimited):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, (("retry-after", str(error.retry_after)),)
    return grpc.StatusCode.PERMISSION_DENIED, ()


def _refusing_handler(
    handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, message: str, trailers: tuple[tuple[str, str], ...]
) -> Any:
    """A handler of the refused method's own kind (unary or streaming) that only aborts."""

    async def refuse(_request: Any, context: aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, message, trailing_metadata=trailers)

    streaming = (getattr(handler, "request_streaming", False), getattr(handler, "response_streaming", False))
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[streaming]
    deserializer = getattr(handler, "request_deserializer", None)
    return make(refuse, request_deserializer=deserializer)


class GateInterceptor(aio.ServerInterceptor):
    """Refuse a call before its handler runs unless its token passes the gate."""

    def __init__(self, gate: Gate, roles: Collection[str], open_methods: frozenset[str] = OPEN_METHODS) -> None:
        self.gate = gate
        self.roles = frozenset(roles)
        self.open_methods = open_methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """The method's handler, or one that answers the refusal."""
        if details.method in self.open_methods:
            return await continuation(details)
        handler = await continuation(details)
        header = next((value for key, value in details.invocation_metadata or () if key == "authorization"), None)
        try:
            await self.gate.admit(header if isinstance(header, str) else None, self.roles)
        except (TokenRefused, Forbidden, RateLimited) as error:
            code, trailers = _refusal(error)
            return _refusing_handler(handler, code, str(error), trailers)
        return handler
