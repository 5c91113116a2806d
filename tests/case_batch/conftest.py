"""One local Ray for the batch job's in-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from case_batch.pipeline import start_ray
from tests.support.coverage_hook import coverage_hook_lifted


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray whose daemons start without the coverage hook and whose workers keep it.

    Started once per module and stopped after it, so no idle Ray loads the tests that follow.
    """
    import ray

    with coverage_hook_lifted() as hook:
        start_ray(None, worker_env=hook)
    yield
    ray.shutdown()
