"""The prediction log's emitter: answered cases reach the feedback service without an answer
ever waiting for it.

:meth:`PredictionLog.record` only appends to a bounded in-memory buffer and returns; a background
task sends the buffer in batches (``POST /v1/predictions``). While the service is down or slow,
events wait in the buffer and the sender retries with a growing pause; when the buffer is full,
the oldest events are dropped and counted (``case_classifier_prediction_log_events_total
{outcome="dropped"}``), so memory stays bounded and the loss is visible. A batch the service
refuses is split until the refused events are found: one bad event costs itself, never the 255
others sent with it. At shutdown (after the drain period, while ``/metrics`` still answers) the
buffer gets a last, bounded attempt; what remains, and anything recorded after, is counted and
logged as dropped. A SIGKILL loses at most the buffer (``buffer_events``).

Each event is encoded (orjson) when it is recorded and waits as bytes: a buffered event is then
one object the garbage collector does not track, instead of a dict and two lists it scans again
at every collection while they wait for their batch (with the log on, the transformer spent
about a third of the log's cost in collections; ``docs/benchmarks.md``). A batch's body is the
encoded events joined.

Why an emitter of our own rather than KServe's payload logger: the logger sends each raw request
and response as CloudEvents, and the raw request holds the customer's unmasked text. Only the
transformer has the cleaned, PII-masked text (the model's own input), so only it can log that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import orjson
from prometheus_client import Counter, Gauge

from case_feedback.events import PredictionEvent
from case_feedback.token_file import TokenFile

log = logging.getLogger("case_feedback.prediction_log")

EVENTS = Counter(
    "case_classifier_prediction_log_events",
    "Prediction-log events by outcome: sent, dropped (buffer full or left at shutdown), refused (4xx)",
    ["outcome"],
)
# From the start at 0, so the first drops show as an increase (alerts read the rate).
for _outcome in ("sent", "dropped", "refused"):
    EVENTS.labels(_outcome)
BUFFERED = Gauge("case_classifier_prediction_log_buffered", "Prediction-log events waiting to be sent")
FAILURES = Counter(
    "case_classifier_prediction_log_send_failures", "Sends to the feedback service that failed (retried)"
)


@dataclass(frozen=True)
class LogConfig:
    """Where events go and how much may wait."""

    url: str
    #: Events kept while the service does not answer; beyond it the oldest are dropped.
    buffer_events: int = 10_000
    #: Events per request to the service (at most its ``max_items``).
    batch_events: int = 256
    #: Longest wait for a full batch: sending each answer as it comes cost the chain a fifth of
    #: its throughput (one call and one database commit per answer; make bench measured it).
    linger_seconds: float = 0.5
    timeout_seconds: float = 5.0
    #: First pause after a failed send; doubles up to ``max_backoff_seconds``.
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 10.0
    #: Longest last attempt to send what is buffered at shutdown.
    flush_seconds: float = 3.0
    #: The file holding the token the log presents (role ``service``); empty: none is sent.
    token_file: str = ""


class Refused(Exception):
    """The service refused a batch (4xx): sending it again would be refused again."""


class NotAdmitted(aiohttp.ClientError):
    """401, 403 or 429: the caller, not the events, was refused (a token not yet rotated, a JWKS
    not yet published, a rate). The events are kept and sent again, like after a network error."""


class PredictionLog:
    """A bounded buffer of events and the task that sends it. Create it inside the event loop
    that will record to it (the sender starts on the first :meth:`record`)."""

    def __init__(self, config: LogConfig) -> None:
        self.config = config
        self._buffer: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self._token = TokenFile(config.token_file) if config.token_file else None

    @property
    def buffered(self) -> int:
        """Events waiting to be sent."""
        return len(self._buffer)

    def record(self, events: Iterable[PredictionEvent]) -> None:
        """Buffer ``events`` for sending; never waits, never raises for the service's sake."""
        if self._closing:  # too late to send: counted, never silently lost
            late = sum(1 for _ in events)
            if late:
                EVENTS.labels("dropped").inc(late)
                log.warning("prediction log events dropped at shutdown", extra={"dropped": late})
            return
        dropped = 0
        for event in events:
            try:
                encoded_event = orjson.dumps(event)
            except TypeError as error:  # orjson's JSONEncodeError: a value it cannot write
                EVENTS.labels("dropped").inc()
                log.error("prediction log event not encodable; dropped", extra={"error": str(error)[:200]})
                continue
            if len(self._buffer) >= self.config.buffer_events:
                self._buffer.popleft()
                dropped += 1
            self._buffer.append(encoded_event)
        if dropped:
            EVENTS.labels("dropped").inc(dropped)
            log.warning("prediction log buffer full: oldest events dropped", extra={"dropped": dropped})
        BUFFERED.set(len(self._buffer))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())
        self._wake.set()

    async def _send_forever(self) -> None:
        backoff = self.config.backoff_seconds
        while True:
            if not self._buffer:
                self._wake.clear()
                await self._wake.wait()
            if len(self._buffer) < self.config.batch_events:
                await asyncio.sleep(self.config.linger_seconds)
            try:
                await self._send_batch()
                backoff = self.config.backoff_seconds
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                FAILURES.inc()
                log.warning(
                    "feedback service unavailable; events kept",
                    extra={"error": type(error).__name__, "buffered": len(self._buffer), "retry_in_s": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff_seconds)

    async def _send_batch(self) -> None:
        """Send the oldest events. They leave the buffer while in flight and come back to its head
        if the send fails or is cancelled (the bound still holding), or the caller was not admitted
        (401/403/429); any other 4xx drops them, since
        sending them again would be refused again."""
        batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), self.config.batch_events))]
        if not batch:
            return
        try:
            authorization = self._token.authorization() if self._token else None
            refused = await post_splitting(
                self._client(), self.config.url, batch, self.config.timeout_seconds, authorization
            )
        except BaseException:
            # Sent halves come back too: their event ids make the second send add nothing.
            self._requeue(batch)
            raise
        if refused:
            log.error(
                "feedback service refused events; dropped",
                extra={"events": len(refused), "error": refused[0][1], "sent": len(batch) - len(refused)},
            )
        EVENTS.labels("sent").inc(len(batch) - len(refused))
        EVENTS.labels("refused").inc(len(refused))
        BUFFERED.set(len(self._buffer))

    def _requeue(self, batch: list[bytes]) -> None:
        self._buffer.extendleft(reversed(batch))
        overflow = len(self._buffer) - self.config.buffer_events
        for _ in range(max(overflow, 0)):
            self._buffer.popleft()
        if overflow > 0:
            EVENTS.labels("dropped").inc(overflow)
        BUFFERED.set(len(self._buffer))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def flush(self) -> None:
        """Stop the background sender, give the buffer one bounded attempt, and count and log what
        remains as dropped. Run when the drain period after SIGTERM is over, while ``/metrics``
        still answers, so the loss can be scraped; events of requests still in flight wait for
        :meth:`close`."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        try:
            async with asyncio.timeout(self.config.flush_seconds):
                while self._buffer:
                    await self._send_batch()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("prediction log not flushed at shutdown", extra={"error": type(error).__name__})
        if self._buffer:
            EVENTS.labels("dropped").inc(len(self._buffer))
            log.warning("prediction log events dropped at shutdown", extra={"dropped": len(self._buffer)})
            self._buffer.clear()
        BUFFERED.set(len(self._buffer))

    async def close(self) -> None:
        """Stop recording (later events are counted as dropped), flush, close the connection."""
        self._closing = True
        await self.flush()
        if self._session is not None:
            await self._session.close()


def encoded(events: Iterable[PredictionEvent]) -> list[bytes]:
    """Events as :func:`post_splitting` takes them: each one's JSON."""
    return [orjson.dumps(event) for event in events]


async def post_splitting(
    session: aiohttp.ClientSession,
    url: str,
    events: list[bytes],
    timeout_seconds: float,
    authorization: str | None = None,
) -> list[tuple[bytes, str]]:
    """Post ``events`` (each one's JSON, :func:`encoded`); when the service refuses them (4xx but
    401/403/429), post each half again, down to single events: return the refused ones with the
    reason (the others are stored). A batch holding one bad event costs about 2·log2(n) more
    requests, and only that event.

    Raises:
        NotAdmitted, aiohttp.ClientError: as :func:`post_events` (some halves may have been stored:
            sending all again is harmless, their event ids are stored).
    """
    try:
        await post_events(session, url, events, timeout_seconds, authorization)
    except Refused as refusal:
        if len(events) == 1:
            return [(events[0], str(refusal))]
        half = len(events) // 2
        first = await post_splitting(session, url, events[:half], timeout_seconds, authorization)
        return first + await post_splitting(session, url, events[half:], timeout_seconds, authorization)
    return []


async def post_events(
    session: aiohttp.ClientSession,
    url: str,
    events: list[bytes],
    timeout_seconds: float,
    authorization: str | None = None,
) -> None:
    """``POST {"predictions": events}`` to ``url`` (``events``: each one's JSON).

    Raises:
        Refused: the service answered 4xx (the events will not be accepted as they are).
        NotAdmitted: 401, 403 or 429 (worth retrying: the caller was refused, not the events).
        aiohttp.ClientError: no answer, or a 5xx (worth retrying).
    """
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    body = b'{"predictions":[' + b",".join(events) + b"]}"
    headers = {"content-type": "application/json"}
    if authorization:
        headers["authorization"] = authorization
    async with session.post(url, data=body, timeout=timeout, headers=headers) as response:
        if response.status in (401, 403, 429):
            raise NotAdmitted(f"HTTP {response.status}: {(await response.text())[:200]}")
        if 400 <= response.status < 500:
            raise Refused(f"HTTP {response.status}: {(await response.text())[:200]}")
        response.raise_for_status()
