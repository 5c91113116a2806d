"""``case-batch-feedback``: load a batch run's predictions into the feedback store, so agents'
corrections of batch-classified cases join like those of cases answered online.

Reads the Parquet output of ``case-batch`` in chunks and posts each chunk to the feedback
service's ``POST /v1/predictions`` (the service owns the store; the job needs no database
credentials). Invalid rows (those with an ``error``) are not predictions and are skipped; a row
the service refuses is refused alone (the chunk is split until it is found) and counted; a chunk
the service does not take after a few attempts stops the load with an error, saying how many
rows were loaded before it. Each row's event id names the output and the row, so running the
load again adds nothing, and rows of cases erased since are refused by the store.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pyarrow.dataset as ds

from case_feedback.events import DEFAULT_URL, PredictionEvent
from case_feedback.prediction_log import encoded, post_splitting
from case_feedback.token_file import TokenFile

ATTEMPTS = 4


def run_id(output: str) -> str:
    """The batch run's id: the output's path and modification time (a rerun of the load on the
    same output gives the same id, a new batch run a new one)."""
    path = Path(output).resolve()
    return "batch-" + hashlib.sha256(f"{path}:{path.stat().st_mtime_ns}".encode()).hexdigest()[:16]


def events(output: str, chunk_rows: int, predicted_at: float) -> Iterator[tuple[list[PredictionEvent], int]]:
    """The output's prediction events, ``chunk_rows`` at a time, with how many invalid rows were skipped."""
    dataset = ds.dataset(output, format="parquet")
    run = run_id(output)
    row_number = -1
    for batch in dataset.to_batches(batch_size=chunk_rows):
        chunk, skipped = [], 0
        for row in batch.to_pylist():
            row_number += 1
            if row.get("error"):
                skipped += 1
                continue
            top = list(row["top_labels"] or [])
            chunk.append(
                PredictionEvent(
                    case_id=row["case_id"] or None,
                    request_id=run,
                    event_id=f"{run}/{row_number}",
                    model_version=row["model_version"],
                    label=row["label"],
                    confidence=0.0 if math.isnan(row["confidence"]) else float(row["confidence"]),
                    status=row["status"],
                    language=row["language"],
                    top_labels=top,
                    top_probabilities=[float(p) for p in (row["top_probabilities"] or [])][: len(top)],
                    text=row.get("text") or "",
                    predicted_at=predicted_at,
                    source="batch",
                )
            )
        yield chunk, skipped


async def load(
    output: str,
    url: str,
    chunk_rows: int,
    predicted_at: float,
    timeout_seconds: float,
    token: TokenFile | None = None,
) -> tuple[int, int, int]:
    """Post every prediction of ``output`` to ``url``; return (loaded, skipped, refused).

    ``token`` is the loader's credential (role ``service``), read again before each chunk: a
    long load outlives a projected service-account token.

    Raises:
        aiohttp.ClientError: the service did not take a chunk after ``ATTEMPTS`` tries.
    """
    loaded = skipped = refused = 0
    async with aiohttp.ClientSession() as session:
        for chunk, invalid in events(output, chunk_rows, predicted_at):
            skipped += invalid
            if not chunk:
                continue
            for attempt in range(ATTEMPTS):
                try:
                    authorization = token.authorization() if token else None
                    rows_refused = await post_splitting(session, url, encoded(chunk), timeout_seconds, authorization)
                    break
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    if attempt == ATTEMPTS - 1:
                        raise aiohttp.ClientError(f"after {loaded} rows loaded: {error!r}") from error
                    await asyncio.sleep(0.5 * 2**attempt)
            for _, reason in rows_refused[:1]:
                print(f"warning: {len(rows_refused)} row(s) refused by the feedback service: {reason}", file=sys.stderr)
            loaded += len(chunk) - len(rows_refused)
            refused += len(rows_refused)
    return loaded, skipped, refused


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-batch-feedback``."""
    parser = argparse.ArgumentParser(prog="case-batch-feedback", description=__doc__.split("\n", 1)[0])
    parser.add_argument("output", help="A case-batch output (Parquet file or dataset directory).")
    parser.add_argument("--feedback-url", default=DEFAULT_URL, help="The feedback service's predictions URL.")
    parser.add_argument("--chunk-rows", type=int, default=1000, help="Rows per request (at most the service's max).")
    parser.add_argument("--timeout-seconds", type=float, default=30.0, help="Budget of one request.")
    parser.add_argument(
        "--feedback-token-file",
        default="",
        help="The token to present (role service): a projected service-account token, re-read as it rotates.",
    )
    args = parser.parse_args(argv)
    token = TokenFile(args.feedback_token_file) if args.feedback_token_file else None
    # The run's time: when its output was written (the store orders a case's predictions by it).
    predicted_at = Path(args.output).stat().st_mtime
    try:
        loaded, skipped, refused = asyncio.run(
            load(args.output, args.feedback_url, args.chunk_rows, predicted_at, args.timeout_seconds, token)
        )
    except (aiohttp.ClientError, OSError) as error:
        print(f"error: the feedback service did not take the predictions: {error}", file=sys.stderr)
        return 1
    print(
        f"loaded {loaded} predictions into the feedback store ({skipped} invalid rows skipped, "
        f"{refused} refused by the service)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
