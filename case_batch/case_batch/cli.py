"""``case-batch``: score a file of cases on Ray and write predictions as Parquet. Flags and wiring only."""

from __future__ import annotations

import argparse

from case_batch.pipeline import BatchJob, run
from case_batch.settings import BatchSettings
from case_serving.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-batch`` and ``python -m case_batch``."""
    parser = argparse.ArgumentParser(prog="case-batch", description="Score a file of cases on Ray; write Parquet.")
    settings, _ = load_settings(BatchSettings, parser, argv)
    job = BatchJob(
        settings.input, settings.output, settings.address, settings.batch_size, settings.concurrency, settings.scoring()
    )
    rows = run(job)
    print(f"wrote {rows} predictions to {settings.output}")
    return 0
