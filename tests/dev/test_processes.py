"""The launcher never hands out a port and hopes: with real processes, a service whose port is taken
exits before it is ready, the launcher sees why (:class:`PortTakenError`), and
:func:`start_on_ports` starts it again on other ports and reports the ports it really holds.

The port is taken by a socket the test holds, as another process on a busy machine takes one
between the launcher's check and the service's bind.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dev.processes import LOOPBACK, PortTakenError, Service, refusing_port, start_on_ports
from dev.stack import SERVICE_PORTS, Ports, Stack, launch
from tests.conftest import SOURCE_ENV

pytestmark = pytest.mark.slow


@contextmanager
def taken(reuse_port: bool = False) -> Iterator[int]:
    """A loopback port another server listens on; with ``reuse_port`` it listens as gRPC servers do
    by default (SO_REUSEPORT), which lets a second such server share the port without an error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _stack(artifact_dir: Path, labels: list[str], tmp_path: Path) -> Stack:
    return Stack(
        ports=Ports.any(),
        model_dir=str(artifact_dir),
        feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}",
        env={**SOURCE_ENV, "FEEDBACK_LABELS": ",".join(labels)},
    )


def _on(stack: Stack, service: str, ports: dict[str, int]) -> Service:
    definition: Service = getattr(
        dataclasses.replace(stack, ports=dataclasses.replace(stack.ports, **ports)), service
    )()
    return definition


def _listens(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


@pytest.mark.parametrize(
    ("service", "port", "reuse_port"),
    [
        ("language", "language", False),
        ("feedback", "feedback", False),
        ("predictor", "predictor_http", False),
        ("predictor", "predictor_grpc", False),
    ],
)
def test_a_service_whose_port_is_taken_exits_and_says_so(service, port, reuse_port, artifact_dir, labels, tmp_path):
    stack = _stack(artifact_dir, labels, tmp_path)
    names = SERVICE_PORTS[service]
    with taken(reuse_port) as held:

        def factory(candidates: tuple[int, ...]) -> Service:
            # the port under test is the held one; the service's other port a candidate
            return _on(stack, service, {name: held if name == port else candidates[0] for name in names})

        try:
            running, _ = start_on_ports(factory, 1, tmp_path, attempts=1)
        except PortTakenError as error:
            refused = error
        else:  # it started after all: fail, and leave nothing running
            running.stop()
            pytest.fail(f"{service} started although its {port} port was taken")
    if len(names) > 1:  # the one taken, not the other, is the port it names
        assert str(held) in str(refused)


def test_the_launcher_starts_again_on_other_ports_and_reports_those(artifact_dir, labels, tmp_path):
    stack = _stack(artifact_dir, labels, tmp_path)
    tried: list[int] = []
    with taken() as held:

        def factory(candidates: tuple[int, ...]) -> Service:
            # the first candidate is taken before the service binds it, as on a busy machine
            port = held if not tried else candidates[0]
            tried.append(port)
            return _on(stack, "language", {"language": port})

        running, ports = start_on_ports(factory, 1, tmp_path)
        try:
            assert tried == [held, ports[0]]
            assert ports[0] != held
            assert "address already in use" in running.log_path.read_text().lower()  # the first attempt
            assert httpx.get(f"http://{LOOPBACK}:{ports[0]}/readyz", timeout=10).status_code == 200
        finally:
            running.stop()


def test_launch_returns_the_ports_its_services_hold(artifact_dir, labels, tmp_path):
    launched = launch(_stack(artifact_dir, labels, tmp_path), tmp_path, ["language", "feedback"])
    try:
        ports = launched.stack.ports
        assert ports.language
        assert ports.feedback
        for port in (ports.language, ports.feedback):
            assert _listens(port)
            assert httpx.get(f"http://{LOOPBACK}:{port}/readyz", timeout=10).status_code == 200
        assert set(launched.processes) == {"language", "feedback"}
    finally:
        launched.stop()


def test_a_refusing_port_refuses_while_held():
    with refusing_port() as port:
        assert not _listens(port)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{LOOPBACK}:{port}/", timeout=5)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other, pytest.raises(OSError, match="in use"):
            other.bind((LOOPBACK, port))  # nobody else can start listening there meanwhile
