"""The coverage hook that ``make test`` puts in every Python process the tests start.

Coverage follows subprocesses through environment variables, so each child Python measures
itself. That roughly doubles the start of a process that imports a lot: Ray's own daemons then
miss their fixed start deadlines on a loaded machine. These helpers keep the hook out of such
processes, and hand it on where it is wanted (Ray's workers, which run our code).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

PREFIX = "COVERAGE_"


def without_coverage(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that start coverage in a child process."""
    return {name: value for name, value in environ.items() if not name.startswith(PREFIX)}


@contextmanager
def coverage_hook_lifted() -> Iterator[dict[str, str]]:
    """Lift the hook from this process's environment for the block; yield what was lifted."""
    lifted = {name: value for name, value in os.environ.items() if name.startswith(PREFIX)}
    for name in lifted:
        del os.environ[name]
    try:
        yield lifted
    finally:
        os.environ.update(lifted)
