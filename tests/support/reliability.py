"""The Reliability table: what the suite tried (input or fault), how many times, what happened.

Tests record a row after their assertions passed (``reliability.record(...)``): each test process
appends JSON lines to ``build/reliability/``, and the controlling pytest process merges them at
the end into ``build/reliability.md`` and prints it. Rows with the same area and trial add up
(a parametrized test over both services, say). ``python -m tests.support.reliability --docs``
copies the latest table into ``docs/reliability.md`` between its markers.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "build" / "reliability"
TABLE = ROOT / "build" / "reliability.md"
AREAS = [
    "Bad input, REST",
    "Bad input, gRPC",
    "Odd texts",
    "PII masking",
    "Fuzzing",
    "Language service faults",
    "Predictor faults",
    "Feedback service faults",
    "Graceful shutdown",
    "Soak",
    "Artifact and images",
    "Network fence",
    "Operations",
]
START, END = "<!-- reliability-table -->", "<!-- /reliability-table -->"


class Ledger:
    """Appends rows to this process's records file."""

    def __init__(self, worker: str) -> None:
        RECORDS.mkdir(parents=True, exist_ok=True)
        self.path = RECORDS / f"records-{worker}.jsonl"

    def record(self, area: str, trial: str, count: int, outcome: str) -> None:
        """One row: ``count`` tries of ``trial`` (an input or a fault) in ``area``, and the ``outcome``."""
        assert area in AREAS, area
        with self.path.open("a") as out:
            out.write(json.dumps({"area": area, "trial": trial, "count": count, "outcome": outcome}) + "\n")


def clear() -> None:
    """Forget the records of an earlier run (called once, by the controlling process)."""
    for path in RECORDS.glob("records-*.jsonl"):
        path.unlink()


def merge() -> str:
    """The Markdown table of every recorded row, in area order; empty when nothing was recorded."""
    rows: dict[tuple[str, str], dict] = {}
    for path in sorted(RECORDS.glob("records-*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            merged = rows.setdefault((row["area"], row["trial"]), {"count": 0, "outcomes": []})
            merged["count"] += row["count"]
            if row["outcome"] not in merged["outcomes"]:
                merged["outcomes"].append(row["outcome"])
    if not rows:
        return ""
    by_area: dict[str, list[str]] = defaultdict(list)
    for (area, trial), merged in rows.items():
        by_area[area].append(f"| {area} | {trial} | {merged['count']:,} | {'; '.join(merged['outcomes'])} |")
    lines = ["| area | input or fault | tries | outcome |", "|---|---|---:|---|"]
    for area in AREAS:
        lines += sorted(by_area[area])
    return "\n".join(lines)


def write_table() -> str:
    """Merge the records into ``build/reliability.md``; return the table."""
    table = merge()
    if table:
        TABLE.write_text(table + "\n")
    return table


def paste_into_docs(page: Path = ROOT / "docs" / "reliability.md") -> None:
    """Replace the page's table between the markers with ``build/reliability.md``."""
    text = page.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{START}\n{TABLE.read_text()}{END}{tail}")


def worker_id() -> str:
    """This process's name under pytest-xdist ("gw0", ...), or "main"."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


if __name__ == "__main__":
    if sys.argv[1:] == ["--docs"]:
        paste_into_docs()
    else:
        print(TABLE.read_text())
