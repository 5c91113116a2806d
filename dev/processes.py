"""Start real service processes on loopback ports, wait for readiness, stop them cleanly.

Used by ``make run``, by the test fixtures and by the benchmarks, so all three start the services
the same way: the container entrypoint (``python -m <package>``) with the container's flags.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class StartupError(RuntimeError):
    """A service exited or did not become ready in time; the message holds its log's tail."""


@dataclass
class Service:
    """A process to run: its argv, extra environment, and the URL that answers 200 once ready."""

    name: str
    argv: Sequence[str]
    ready_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0


@dataclass
class RunningService:
    """A started service; :meth:`stop` sends SIGTERM and waits, then kills."""

    service: Service
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """Process id."""
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the service printed."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the service if it still runs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int | None:
        """Stop gracefully (SIGTERM), or kill after ``timeout`` seconds; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode


def start(service: Service, log_dir: Path, wait: bool = True) -> RunningService:
    """Start ``service`` with its output in ``log_dir/<name>.log``; wait until ready by default."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{service.name}.log"
    log = log_path.open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}
    process = subprocess.Popen(
        list(service.argv), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    running = RunningService(service, process, log_path, log)
    if wait:
        try:
            wait_ready(running)
        except BaseException:
            running.stop(5)
            raise
    return running


def wait_ready(running: RunningService, timeout: float | None = None) -> float:
    """Poll the ready URL until it answers 200; return the seconds it took.

    Raises:
        StartupError: the process exited, or was not ready within the timeout.
    """
    service = running.service
    limit = service.ready_timeout if timeout is None else timeout
    started = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while True:
            if running.process.poll() is not None:
                raise StartupError(
                    f"{service.name} exited with code {running.process.returncode} before it was ready:\n"
                    f"{running.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(service.ready_url).status_code == 200:
                    return time.monotonic() - started
            if time.monotonic() - started > limit:
                raise StartupError(
                    f"{service.name} not ready after {limit:.0f}s at {service.ready_url}:\n{running.log_tail()}"
                )
            time.sleep(0.05)


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``python -m module args`` with this interpreter, as the images do."""
    return [sys.executable, "-m", module, *args]
