"""The V2 REST hop to the predictor: one pooled keep-alive aiohttp session, bodies by orjson.

Why not KServe's REST client: it sends through httpx and parses the answer through pydantic, and
under ``make bench`` at one request at a time it cost the transformer more CPU per call than the
gRPC hop (1.84 against 1.18 ms per answer, scratch driver over the bench's chain, 2026-12-04),
while the predictor serves REST for less than gRPC (1.06 against 1.47 ms). With this client the
chain answered at c=1 in a p50 of 2.8 ms against 3.5 ms over gRPC. The cluster's hop is REST
(``manifests/base/model/inferenceservice.yaml``), so this is the path as deployed; with
``--predictor_protocol grpc-v2`` KServe's gRPC client is used instead.

KServe's flags keep their meaning: ``--predictor_host`` (and ``--predictor_use_ssl``, verified
against ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when set, as KServe's client does) say where,
``--predictor_request_timeout_seconds`` bounds each call. ``--predictor_request_retries`` sends a
call again, after a growing pause, when it never reached the predictor or its pooled connection
was closed under it (KServe 0.21's REST client builds a retrying transport and does not use it);
predicting has no side effect, so a repeated call is harmless. Nothing else is retried.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

import aiohttp
import orjson
from kserve.protocol.infer_type import InferRequest, InferResponse

from case_serving.logs import REQUEST_ID_HEADER

#: Most connections open to the predictor: the transformer's batcher sends one call at a time, an
#: explanation may run beside it; a call beyond this many waits for a free connection.
MAX_CONNECTIONS = 16
#: First pause before a call is sent again; doubles with each attempt.
RETRY_PAUSE_SECONDS = 0.1
#: A call that never reached the predictor, or whose pooled connection was closed under it.
_NOT_DELIVERED = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError)


def _tls(url: str) -> ssl.SSLContext | bool:
    """The TLS context of an ``https`` predictor: the CA bundle KServe's client would trust, else
    the system's; True (aiohttp's default) for plain HTTP, where it is unused."""
    if not url.startswith("https://"):
        return True
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()


class PredictorStatusError(Exception):
    """The predictor answered with an HTTP status other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status} from the predictor")
        self.status = status


def request_body(request: InferRequest) -> bytes:
    """The V2 JSON body of ``request`` (string tensors and plain parameters, as the transformer sends)."""
    body: dict[str, Any] = {
        "inputs": [
            {"name": item.name, "datatype": item.datatype, "shape": item.shape, "data": item.data}
            for item in request.inputs
        ]
    }
    if request.id:
        body["id"] = request.id
    if request.parameters:
        body["parameters"] = request.parameters
    return orjson.dumps(body)


class RestPredictor:
    """Calls ``url`` (the predictor's V2 infer route) with one session made on first use, inside
    the event loop that serves requests.

    Args:
        url: ``http(s)://host:port/v2/models/<name>/infer``.
        timeout_seconds: Longest a call may take, connection included.
        retries: Further attempts when the connection cannot be made.
    """

    def __init__(self, url: str, timeout_seconds: float, retries: int = 0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._retries = max(0, retries)
        self._session: aiohttp.ClientSession | None = None

    async def infer(self, request: InferRequest, request_id: str) -> InferResponse:
        """The predictor's answer to ``request``.

        Raises:
            PredictorStatusError: it answered with another status than 200.
            ValueError: it answered 200 with something else than a V2 answer.
            aiohttp.ClientError, TimeoutError: it could not be reached, or not in time.
        """
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=_tls(self.url))
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        body = request_body(request)
        headers = {"content-type": "application/json", REQUEST_ID_HEADER: request_id}
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
            try:
                async with self._session.post(self.url, data=body, headers=headers) as response:
                    raw = await response.read()
                    if response.status != 200:
                        raise PredictorStatusError(response.status)
            except _NOT_DELIVERED:
                if attempt == self._retries:
                    raise
                continue
            try:
                return InferResponse.from_rest(orjson.loads(raw))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"not a V2 answer ({type(error).__name__})") from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the session (at shutdown, inside the loop that made it)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
