"""CPU seconds a setup's processes spend: steadier than req/s on a shared machine, where another
tenant's load lowers throughput but hardly changes what one answer costs.

Read from ``/proc`` through psutil: user and system time of each process of the setup and of its
children (Gunicorn's and MLServer's workers), before and after a measured window.
"""

from __future__ import annotations

import psutil


def cpu_seconds_of(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` and its live children."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in tree:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a worker that ended meanwhile: its time is gone with it
            continue
        total += times.user + times.system
    return total


def per_thousand(seconds: float, answers: int) -> float:
    """CPU seconds per 1,000 answers (0 when nothing was answered)."""
    return 1000.0 * seconds / answers if answers else 0.0
