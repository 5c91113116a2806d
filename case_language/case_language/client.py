"""The client of the language service, with everything that keeps a request from waiting on it.

The external mode calls the language service's HTTP contract (``POST {"texts": [...]}`` ->
``[{"language", "confidence"}]``) with one pooled aiohttp session, a per-call time budget
that includes bounded retries with exponential backoff, a circuit breaker, and an LRU cache. A
slow, failing or garbage-answering service never fails a request: the fallback (the in-process
detector, or ``unknown``) answers within the budget. The transformer and the batch pipeline
build it from their own configuration (:class:`ClientConfig`), so both detect alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
import orjson

from case_language import client_metrics
from case_language.breaker import BreakerState, CircuitBreaker
from case_model import UNKNOWN, LocalDetector
from case_serving.batching import MicroBatcher
from case_serving.logs import REQUEST_ID_HEADER, request_id

Mode = Literal["external", "local", "off"]


@dataclass(frozen=True)
class ClientConfig:
    """How to reach the language service and what to do when it does not answer in time."""

    url: str
    timeout_seconds: float = 0.25
    retries: int = 2
    backoff_seconds: float = 0.02
    fallback: Literal["local", "unknown"] = "local"
    cache_size: int = 4096
    breaker_failures: int = 5
    breaker_reset_seconds: float = 5.0
    #: Most texts per call; concurrent callers' texts share one call up to this.
    batch_max_size: int = 32


log = logging.getLogger("case_language.client")


class LanguageDetection(Protocol):
    """Detects the language (ISO 639-1 or ``unknown``) of each text of a batch."""

    async def detect(self, texts: Sequence[str]) -> list[str]:
        """Languages of ``texts``, in order."""
        ...


class NoDetection:
    """``off``: every text is ``unknown`` (and so classified)."""

    async def detect(self, texts: Sequence[str]) -> list[str]:
        """All ``unknown``."""
        return [UNKNOWN] * len(texts)


class LocalDetection:
    """``local``: the model package's in-process detector (about 20 microseconds a text)."""

    def __init__(self, detector: LocalDetector) -> None:
        self._detector = detector

    async def detect(self, texts: Sequence[str]) -> list[str]:
        """Detect in-process; cheap enough not to leave the event loop."""
        return [d.language for d in self._detector.detect_many(texts)]


class LruCache:
    """A bounded text -> language map; the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, str] = OrderedDict()

    def get(self, text: str) -> str | None:
        """The cached language of ``text``, or ``None``."""
        language = self._entries.get(text)
        if language is not None:
            self._entries.move_to_end(text)
        return language

    def put(self, text: str, language: str) -> None:
        """Remember ``text``'s language."""
        if self._size <= 0:
            return
        self._entries[text] = language
        self._entries.move_to_end(text)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class LanguageServiceError(Exception):
    """The language service failed, timed out or answered something unusable."""


class ExternalDetection:
    """``external``: the language service over HTTP, with budget, retries, breaker, cache, fallback."""

    def __init__(
        self,
        url: str,
        client: LanguageServiceClient,
        fallback: LanguageDetection,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        breaker: CircuitBreaker,
        cache: LruCache,
        batch_max_size: int = 256,
    ) -> None:
        self._url = url
        self._client = client
        self._fallback = fallback
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._breaker = breaker
        self._cache = cache
        # Concurrent requests' uncached texts go to the service in one call.
        self._batcher: MicroBatcher[str, list[str]] = MicroBatcher(self._detect_uncached, batch_max_size)

    async def detect(self, texts: Sequence[str]) -> list[str]:
        """Cached answers first; one call for the rest; the fallback if that call cannot succeed."""
        languages: list[str | None] = [self._cache.get(text) for text in texts]
        missing = [i for i, language in enumerate(languages) if language is None]
        if missing:
            found, part = await self._batcher.submit([texts[i] for i in missing])
            for i, language in zip(missing, found[part], strict=True):
                languages[i] = language
        return [language or UNKNOWN for language in languages]

    async def _detect_uncached(self, texts: list[str]) -> list[str]:
        if not self._breaker.allow():
            client_metrics.LANGUAGE_CALLS.labels("skipped_open_breaker").inc()
            return await self._fall_back(texts)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                languages = await self._call_with_retries(texts)
        except (TimeoutError, LanguageServiceError) as error:
            self._breaker.record_failure()
            outcome = "timeout" if isinstance(error, TimeoutError) else "error"
            client_metrics.LANGUAGE_CALLS.labels(outcome).inc()
            log.warning("language service failed; fallback answers", extra={"reason": str(error) or outcome})
            return await self._fall_back(texts)
        finally:
            client_metrics.LANGUAGE_SECONDS.observe(time.perf_counter() - started)
        self._breaker.record_success()
        client_metrics.LANGUAGE_CALLS.labels("ok").inc()
        for text, language in zip(texts, languages, strict=True):
            self._cache.put(text, language)
        return languages

    async def _call_with_retries(self, texts: list[str]) -> list[str]:
        delay = self._backoff
        for attempt in range(self._retries + 1):
            try:
                return await self._call(texts)
            except LanguageServiceError:
                if attempt == self._retries:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, texts: list[str]) -> list[str]:
        return _parse(await self._client.post(self._url, texts), len(texts))

    async def _fall_back(self, texts: list[str]) -> list[str]:
        client_metrics.LANGUAGE_FALLBACKS.inc(len(texts))
        return await self._fallback.detect(texts)


class LanguageServiceClient:
    """One pooled keep-alive HTTP session to the language service.

    aiohttp rather than httpx: at one request at a time httpx's client cost the transformer more
    CPU than its text steps (profiled under ``make bench``). The session is made on first use,
    inside the event loop that serves requests.
    """

    def __init__(self, timeout: float, max_connections: int = 64) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, texts: list[str]) -> bytes:
        """POST ``{"texts": texts}``; the raw 200 body, or ``LanguageServiceError`` saying why not."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        headers = {REQUEST_ID_HEADER: request_id.get(), "Content-Type": "application/json"}
        try:
            async with self._session.post(url, data=orjson.dumps({"texts": texts}), headers=headers) as response:
                body = await response.read()
        except aiohttp.ClientError as error:
            raise LanguageServiceError(f"{type(error).__name__}: {error}") from error
        if response.status != 200:
            raise LanguageServiceError(f"HTTP {response.status}")
        return body

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()


def _parse(raw: bytes, n: int) -> list[str]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise LanguageServiceError("answer is not JSON") from error
    if not isinstance(body, list) or len(body) != n:
        raise LanguageServiceError(f"expected a list of {n} detections")
    languages = []
    for item in body:
        language = item.get("language") if isinstance(item, dict) else None
        if not isinstance(language, str) or not (language == UNKNOWN or (len(language) == 2 and language.isalpha())):
            raise LanguageServiceError(f"invalid detection {item!r:.80}")
        languages.append(language.lower())
    return languages


def breaker_metrics(state: BreakerState) -> None:
    """Publish a breaker state change (gauge and transition counter)."""
    client_metrics.BREAKER_STATE.set(int(state))
    client_metrics.BREAKER_TRANSITIONS.labels(state.name.lower()).inc()
    log.warning("language-service breaker changed state", extra={"state": state.name.lower()})


def build_detection(
    mode: Mode, config: ClientConfig, detector_languages: Sequence[str]
) -> tuple[LanguageDetection, LanguageServiceClient | None]:
    """The language detection for ``mode``, and the pooled HTTP client it owns (external mode)."""
    if mode == "off":
        return NoDetection(), None
    local = LocalDetection(LocalDetector(detector_languages))
    if mode == "local":
        return local, None
    client = LanguageServiceClient(config.timeout_seconds)
    breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_seconds, on_change=breaker_metrics)
    detection = ExternalDetection(
        config.url,
        client,
        local if config.fallback == "local" else NoDetection(),
        timeout=config.timeout_seconds,
        retries=config.retries,
        backoff=config.backoff_seconds,
        breaker=breaker,
        cache=LruCache(config.cache_size),
        batch_max_size=max(config.batch_max_size, 1),
    )
    return detection, client
