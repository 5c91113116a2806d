"""Which model versions the route serves, and their labels, read from the served models themselves.

An agent's correction may name any label a served version answers with: during a canary, a label
only the new version has is a real answer. A prediction event must come from a version really
served. Both sets therefore come from the servers (``GET /v2/models/<name>/labels`` on each slot,
:mod:`case_serving.model_labels`), read again every ``refresh_seconds``, not from the model wheel
this service's image happens to carry. A version no server has reported for ``keep_seconds`` is
dropped: events a replaced version's pods still hold arrive well within that, and an old or
made-up version string cannot grow the store's figures and metrics without bound.

Without served models configured (a development bench), the labels are fixed (the setting, or the
installed wheel's) and any version is taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("case_feedback")

#: Longest version and label strings the contract takes (contract.PredictionIn, CorrectionIn).
MAX_VERSION_CHARS = 64
MAX_LABEL_CHARS = 128


@dataclass(frozen=True)
class Catalogue:
    """What the store takes now: these labels, from these versions (None: any version)."""

    labels: frozenset[str]
    versions: frozenset[str] | None

    def unserved(self, versions: Sequence[str]) -> list[str]:
        """The ``versions`` no server serves (none when any version is taken), sorted."""
        if self.versions is None:
            return []
        return sorted(set(versions) - self.versions)

    def unknown(self, labels: Sequence[str]) -> list[str]:
        """The ``labels`` (empty ones aside: a case not classified has none) no served version has."""
        return sorted({label for label in labels if label} - self.labels)


class _Reading(BaseModel):
    """One server's answer; anything else is not a reading."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(min_length=1, max_length=MAX_VERSION_CHARS)
    labels: list[Annotated[str, Field(min_length=1, max_length=MAX_LABEL_CHARS)]] = Field(min_length=1, max_length=1000)


class ServedModels:
    """The catalogue: fixed, or read from the servers at ``urls``.

    Args:
        urls: Each slot's labels route; empty: the catalogue is ``fixed`` labels and any version.
        fixed: The labels of a catalogue without servers.
        refresh_seconds: How often the servers are read.
        keep_seconds: How long a version stays taken after a server last reported it.
        clock: Seconds, monotonic (a test's clock).
    """

    def __init__(
        self,
        urls: Sequence[str],
        fixed: Sequence[str] = (),
        refresh_seconds: float = 30.0,
        keep_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = tuple(urls)
        self.refresh_seconds = refresh_seconds
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._fixed = None if self.urls else Catalogue(frozenset(fixed), None)
        self._seen: dict[str, tuple[frozenset[str], float]] = {}
        self._failing: set[str] = set()

    def catalogue(self) -> Catalogue | None:
        """What is taken now; None while no server has been read yet."""
        if self._fixed is not None:
            return self._fixed
        oldest = self._clock() - self.keep_seconds
        current = {version: labels for version, (labels, seen) in self._seen.items() if seen >= oldest}
        if not current:
            return None
        return Catalogue(frozenset().union(*current.values()), frozenset(current))

    def record(self, version: str, labels: Sequence[str]) -> None:
        """A server serves ``version``, which answers with ``labels``."""
        known = self._seen.get(version)
        if known is None or known[0] != frozenset(labels):
            log.info("served model version", extra={"model_version": version, "labels": len(labels)})
        self._seen[version] = (frozenset(labels), self._clock())

    async def watch(self) -> None:
        """Read the servers now and every ``refresh_seconds`` (nothing to do without servers)."""
        if not self.urls:
            return
        timeout = aiohttp.ClientTimeout(total=min(10.0, self.refresh_seconds))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await asyncio.gather(*(self._read(session, url) for url in self.urls))
                # Until a first reading, nothing is accepted: try again soon.
                await asyncio.sleep(self.refresh_seconds if self._seen else min(1.0, self.refresh_seconds))

    async def _read(self, session: aiohttp.ClientSession, url: str) -> None:
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                reading = _Reading.model_validate_json(await response.read())
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, ValidationError) as error:
            if url not in self._failing:  # once per outage, not once per refresh
                self._failing.add(url)
                log.warning("served model not read", extra={"url": url, "error": _reason(error)})
            return
        self._failing.discard(url)
        self.record(reading.version, reading.labels)


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "not a labels answer"
    return str(error) or type(error).__name__
