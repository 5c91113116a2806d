"""Start real service processes on loopback ports, wait for readiness, stop them cleanly.

Used by ``make run``, by the test fixtures and by the benchmarks, so all three start the services
the same way: the container entrypoint (``python -m <package>``) with the container's flags.

Ports: nothing here hands a port number that was merely free a moment ago to a process and hopes.
On a busy machine another process can take it in between (a CI run failed with ``[Errno 98]
address already in use``). :func:`start_on_ports` picks candidate ports, starts the service on
them, and when the service exits before it is ready because a port was taken, starts it again on
other ports; it returns the ports the running service really holds. Every service here exits
when it cannot bind (checked with real processes in tests/dev/test_processes.py), so a taken port
is always seen. A URL that must point where nothing listens uses :func:`refusing_port`, a port
held bound (not listening) for as long as it is needed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

LOOPBACK = "127.0.0.1"


#: How the processes started here say that a port they were to bind is taken: Python's OSError
#: and Uvicorn (``[Errno 98] ... address already in use``), Go (Prometheus, podman's port
#: forwarder: ``bind: address already in use``), gRPC (``Failed to bind to address``), Gunicorn
#: (``Connection in use``). Compared in lower case.
BIND_FAILURES = ("address already in use", "errno 98", "failed to bind to address", "connection in use")
#: How often :func:`start_on_ports` tries new ports before it gives up.
PORT_ATTEMPTS = 5


class StartupError(RuntimeError):
    """A service exited or did not become ready in time; the message holds its log's tail."""


class PortTakenError(StartupError):
    """A service exited before it was ready because a port it was to bind was taken."""


def bind_failed(output: str) -> bool:
    """Whether a process's output says it could not bind a port (see :data:`BIND_FAILURES`)."""
    lowered = output.lower()
    return any(failure in lowered for failure in BIND_FAILURES)


def _candidate_range() -> range:
    """Ports below the kernel's ephemeral range, where it never puts an outgoing connection or a
    bind to port 0: a candidate there is taken between the check and the service's bind only by
    another process choosing ports itself, which makes a retry rare (it is still handled)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(20000, low) if low > 21000 else range(low, 61000)


def candidate_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct loopback ports nothing was bound to at the moment of the check.

    Not a reservation: :func:`start_on_ports` hands them on and starts again on other ports when
    one was taken in between; a test that must name a port before its service starts (a restart on
    its own port, a predictor started after its transformer) takes one from here, below the
    kernel's ephemeral range, where nothing is bound implicitly.
    """
    ports: list[int] = []
    choices = _candidate_range()
    while len(ports) < count:
        port = random.choice(choices)  # nosec B311 - spreading choices, not a secret
        if port in ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        ports.append(port)
    return tuple(ports)


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port held bound but not listening while the block runs: connections to it are
    refused, and no other process can start listening there meanwhile (a dead URL that stays dead)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        yield int(sock.getsockname()[1])


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
    #: Where this process's output starts in the log (a log may hold earlier runs' output).
    log_offset: int = 0
    #: Seconds from process start to ready (0 until :func:`start` waited for it).
    ready_seconds: float = 0.0

    @property
    def pid(self) -> int:
        """Process id."""
        return self.process.pid

    def output(self) -> str:
        """Everything this process printed (not what earlier runs left in the same log)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

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
    offset = log.tell()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}
    process = subprocess.Popen(
        list(service.argv), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    running = RunningService(service, process, log_path, log, offset)
    if wait:
        try:
            running.ready_seconds = wait_ready(running)
        except BaseException:
            running.stop(5)
            raise
    return running


def start_on_ports(
    factory: Callable[[tuple[int, ...]], Service], count: int, log_dir: Path, attempts: int = PORT_ATTEMPTS
) -> tuple[RunningService, tuple[int, ...]]:
    """Start the service ``factory(ports)`` makes for ``count`` candidate ports, and wait until ready;
    when it exits because a port was taken, start it again on new ports (``attempts`` times at most).

    Returns:
        The ready service and the ports it holds, in the order ``factory`` was given them.

    Raises:
        PortTakenError: every attempt found a port taken.
        StartupError: the service failed for another reason (not retried: it would fail again).
    """
    failure: PortTakenError | None = None
    for _ in range(attempts):
        ports = candidate_ports(count)
        try:
            return start(factory(ports), log_dir), ports
        except PortTakenError as error:
            failure = error
    raise PortTakenError(f"a port was taken on each of {attempts} attempts; the last: {failure}")


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
                error = PortTakenError if bind_failed(running.output()) else StartupError
                raise error(
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
