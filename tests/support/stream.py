"""A steady stream of requests across an event (a shutdown, a fault), counted by outcome."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

import httpx


class SteadyStream:
    """``workers`` threads POSTing ``body()`` to ``url`` back to back until stopped.

    Every request goes on a fresh connection (``Connection: close``), so a request either is
    refused at connect (never accepted) or was accepted and must be answered: a transport error
    after connecting counts as ``lost``. ``headers`` go with every request (a bearer token, say).
    """

    def __init__(
        self,
        url: str,
        body: Callable[[int], dict],
        workers: int = 4,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.body = body
        self.workers = workers
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.outcomes: Counter[str] = Counter()
        self.answered_after: Counter[str] = Counter()  # outcomes of requests sent after mark()
        self.first_refused: float | None = None
        self._marked: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(workers)]

    def __enter__(self) -> SteadyStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def mark(self) -> float:
        """Note the moment of the event; later requests are also counted in ``answered_after``."""
        self._marked = time.monotonic()
        return self._marked

    def stop(self) -> None:
        """Send no new requests; wait for the ones in flight to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _record(self, outcome: str, sent: float) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if self._marked is not None and sent >= self._marked:
                self.answered_after[outcome] += 1
            if outcome == "refused" and self.first_refused is None:
                self.first_refused = time.monotonic()

    def _run(self, worker: int) -> None:
        n = 0
        with httpx.Client(timeout=self.timeout, headers={**self.headers, "Connection": "close"}) as client:
            while not self._stop.is_set():
                n += 1
                sent = time.monotonic()
                try:
                    outcome = str(client.post(self.url, json=self.body(worker * 1_000_000 + n)).status_code)
                except httpx.ConnectError:
                    outcome = "refused"
                except httpx.TransportError as error:
                    outcome = f"lost: {type(error).__name__}"
                self._record(outcome, sent)
                if outcome == "refused":
                    time.sleep(0.05)


def readiness_until_refused(url: str, deadline: float) -> list[str]:
    """Poll ``url`` every 20 ms until it refuses connections (or the deadline); the codes seen, in order."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            code = str(httpx.get(url, timeout=2).status_code)
        except httpx.ConnectError:
            seen.append("refused")
            return seen
        except httpx.TransportError as error:
            code = type(error).__name__
        if not seen or seen[-1] != code:
            seen.append(code)
        time.sleep(0.02)
    return seen
