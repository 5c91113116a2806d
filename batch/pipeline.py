"""The Ray Data pipeline: read cases, score them with :class:`batch.scoring.CaseScorer`, write Parquet.

Runs on a local Ray by default and on an existing cluster (e.g. KubeRay) given its address. Each
scoring actor loads the model once; batches of ``batch_size`` rows go through one vectorised
predict, so the per-row cost is the in-process batched cost plus Ray's transfer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from batch.scoring import CaseScorer, ScoringConfig


@dataclass(frozen=True)
class BatchJob:
    """One batch run: where cases come from and go to, and how widely to score them."""

    input: str
    output: str
    address: str | None = None
    batch_size: int = 1024
    concurrency: int | None = None
    scoring: ScoringConfig = field(default_factory=ScoringConfig)


# Reading and writing are IO-bound; without a CPU slot of their own they cannot be starved by
# the scoring actors, which take one CPU each (on 2 cores, two actors would otherwise deadlock).
_IO_TASK = {"num_cpus": 0}


def _read(path: str):
    import ray.data

    if path.endswith((".csv", ".csv.gz")):
        return ray.data.read_csv(path, **_IO_TASK)
    return ray.data.read_parquet(path, **_IO_TASK)


def run(job: BatchJob) -> int:
    """Run the job; return the number of rows written (one per input row)."""
    import ray

    if not ray.is_initialized():
        # A local Ray stays on loopback; a given address joins that cluster as it is.
        local = {"_node_ip_address": "127.0.0.1"} if job.address is None else {}
        ray.init(address=job.address, include_dashboard=False, log_to_driver=False, **local)
    concurrency = job.concurrency or max(1, int(ray.available_resources().get("CPU", 1)))
    dataset = _read(job.input)
    scored = dataset.map_batches(
        CaseScorer,
        fn_constructor_kwargs={"config": job.scoring},
        batch_size=job.batch_size,
        batch_format="pandas",
        # An autoscaling pool: the first actor leaves a CPU for listing and reading the input.
        concurrency=(1, concurrency),
        num_cpus=1,
    )
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    scored.write_parquet(job.output, mode="overwrite", ray_remote_args=_IO_TASK)
    return _count(job.output)


def _files(output: str):
    return (p for p in Path(output).glob("*.parquet") if p.is_file()) if os.path.isdir(output) else iter([output])


def _count(output: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in _files(output))
