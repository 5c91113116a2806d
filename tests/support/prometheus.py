"""A real Prometheus (Debian's) for tests: on a loopback port, scraping given targets every second,
optionally evaluating rule files; queried through its HTTP API."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from dev.processes import LOOPBACK, Service, start_on_ports

PROMETHEUS = shutil.which("prometheus")


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def query(url: str, expr: str) -> list[dict]:
    """An instant query's result series."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@contextmanager
def running(root: Path, targets: Sequence[str], rule_files: Sequence[Path] = ()) -> Iterator[str]:
    """Prometheus scraping ``targets`` (host:port) every second, ready once all are up; its URL.
    Skips the test where Debian's ``prometheus`` is not installed."""
    if PROMETHEUS is None:
        pytest.skip("prometheus (Debian package) missing: make tools installs it")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": "case-classifier", "static_configs": [{"targets": list(targets)}]}],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert PROMETHEUS is not None

    def prometheus(ports: tuple[int, ...]) -> Service:
        argv = [
            PROMETHEUS,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address={LOOPBACK}:{ports[0]}",
        ]
        return Service("prometheus", argv, f"http://{LOOPBACK}:{ports[0]}/-/ready")

    # Prometheus exits when its port is taken ("bind: address already in use"): another one then.
    process, (port,) = start_on_ports(prometheus, 1, root)
    url = f"http://{LOOPBACK}:{port}"
    try:
        until(lambda: len(query(url, "up == 1")) == len(targets))
        yield url
    finally:
        process.stop()
