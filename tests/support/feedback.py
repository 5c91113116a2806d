"""Starting the feedback service and reading what it stored, in tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from dev.processes import RunningService
from dev.stack import Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.support.auth import bearer

T = TypeVar("T")


@dataclass
class Feedback:
    """A running feedback service: its base URL, its store URL and its process."""

    url: str
    store_url: str
    process: RunningService

    def quality(self, version: str) -> dict | None:
        """The ``GET /v1/quality`` entry of ``version`` (None before it logged anything), as a reader."""
        answer = httpx.get(
            f"{self.url}/v1/quality", params={"model_version": version}, timeout=10, headers=bearer("reader")
        )
        assert answer.status_code == 200, answer.text
        versions = answer.json()["model_versions"]
        return versions[0] if versions else None

    def correct(self, *corrections: tuple[str, str], agent: str = "a-17", role: str = "crm") -> httpx.Response:
        """``POST /v1/corrections`` of (case_id, label) pairs, as the CRM on ``agent``'s behalf."""
        body = {"corrections": [{"case_id": c, "label": label, "agent_id": agent} for c, label in corrections]}
        return httpx.post(f"{self.url}/v1/corrections", json=body, timeout=10, headers=bearer(role))

    def log(self, events: Sequence[dict]) -> httpx.Response:
        """``POST /v1/predictions``, as a service."""
        body = {"predictions": list(events)}
        return httpx.post(f"{self.url}/v1/predictions", json=body, timeout=10, headers=bearer("service"))

    def erase(self, case_id: str, role: str = "privacy") -> httpx.Response:
        """``DELETE /v1/cases?case_id=`` (any id, one with '/' too)."""
        return httpx.delete(f"{self.url}/v1/cases", params={"case_id": case_id}, timeout=10, headers=bearer(role))


def start_feedback(store_url: str, labels: Sequence[str], logs: Path, *args: str, port: int = 0) -> Feedback:
    """The feedback service on ``store_url``, on a port it holds (0: any; started again on another
    if one was taken meanwhile) or on ``port`` (a restart on its own port, no retry)."""
    env = {**SOURCE_ENV, "FEEDBACK_LABELS": ",".join(labels)}
    if not any(arg.startswith("--auth-rate-limits") for arg in args):
        # Tests poll (quality every 0.1 s): far above a reader's default rate. The limits' own
        # test starts a service with the defaults (tests/case_feedback/test_access.py).
        args = (*args, "--auth-rate-limits=crm=1000,agent=1000,service=1000,privacy=1000,reader=1000")
    if not any(arg.startswith("--corrections-per") for arg in args):
        # Tests share one service per store and correct under a few agent names all session; the
        # daily limits' own test starts a service with them (test_training_data_integrity.py).
        args = (*args, "--corrections-per-agent-per-day=0", "--corrections-per-day=0")
    stack = Stack(ports=Ports.any(feedback=port), feedback_store=store_url, feedback_args=args, env=env)
    stack, running = start_service(stack, "feedback", logs)
    return Feedback(stack.url(stack.ports.feedback), store_url, running)


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, every: float = 0.1) -> T:
    """``probe()``'s first truthy answer within ``timeout`` seconds (fails the test otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s (last: {answer!r})")
        time.sleep(every)
