"""Warm-up: readiness waits until a few real requests went through the running service.

Loading the model before readiness is not enough: the first request through a fresh process
also pays for the executor's threads, the predictor's gRPC channel, the language-service session
and first-call paths in the libraries (measured: 10.8 ms for the chain's first request against
3.7 ms for the next, 4.0 against 1.5 ms for the predictor's). So once its HTTP server listens, a
service sends itself a few typical requests over loopback, through every layer a caller's
request takes, and only then reports ready. If its dependencies are not up yet (the transformer's
predictor), it gives up after ``timeout`` seconds and reports ready anyway: readiness must not
hang on warm-up.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import orjson

log = logging.getLogger("case_serving")
#: The request id of warm-up requests: a service's own traffic, kept out of its prediction log.
REQUEST_ID = "case-serving-warm-up"
CASES = [
    "My laptop does not charge since the update, the battery light blinks orange.",
    "The screen flickers and goes black when I open the lid of the notebook.",
    "Mein Drucker zieht kein Papier mehr ein und zeigt einen Fehler an.",
    "The docking station does not detect my second monitor after the firmware update.",
]


def v2_body(texts: list[str]) -> bytes:
    """A V2 request with one BYTES input ``text`` (what both services accept)."""
    return orjson.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]})


async def _until_listening(client: httpx.AsyncClient, url: str) -> None:
    """Poll ``url`` until the server answers at all (it starts in the same loop, a moment later)."""
    while True:
        try:
            await client.get(url)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.01)


class Warmup:
    """Whether warm-up is over; :meth:`run` performs it once the server listens."""

    def __init__(
        self, infer_path: str, rounds: int = 6, timeout: float = 10.0, authorization: str | None = None
    ) -> None:
        self.infer_path = infer_path
        self.rounds = rounds
        self.timeout = timeout
        #: The gate's in-memory credential, where the route asks for a token.
        self.authorization = authorization
        self.done = rounds == 0

    async def run(self, port: int) -> None:
        """Wait for the HTTP server, send the warm-up requests, then let readiness through."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._requests(port), self.timeout)
            log.info("warm-up done", extra={"ms": round((time.monotonic() - started) * 1000, 1)})
        except (TimeoutError, httpx.HTTPError) as error:
            log.warning("warm-up incomplete; ready anyway", extra={"error": repr(error)})
        finally:
            self.done = True

    async def _requests(self, port: int) -> None:
        url = f"http://127.0.0.1:{port}{self.infer_path}"
        headers = {"content-type": "application/json", "x-request-id": REQUEST_ID}
        if self.authorization:
            headers["authorization"] = self.authorization
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            await _until_listening(client, f"http://127.0.0.1:{port}/v2/health/live")
            sent = 0
            while sent < self.rounds:  # one at a time, then concurrent ones: the batching path too
                texts = [CASES[sent % len(CASES)]]
                bodies = [v2_body(texts)] if sent % 2 == 0 else [v2_body([case]) for case in CASES]
                responses = await asyncio.gather(*(client.post(url, content=b, headers=headers) for b in bodies))
                if all(response.status_code == 200 for response in responses):
                    sent += 1
                else:
                    await asyncio.sleep(0.2)  # a dependency is not up yet: try again until the timeout
