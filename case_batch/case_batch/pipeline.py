"""The Ray Data pipeline: read cases, score them with :class:`batch.scoring.CaseScorer`, write Parquet.

Runs on a local Ray by default and on an existing cluster (e.g. KubeRay) given its address. Each
scoring actor loads the model once; batches of ``batch_size`` rows go through one vectorised
predict, so the per-row cost is the in-process batched cost plus Ray's transfer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from case_batch.scoring import CaseScorer, ScoringConfig
from case_signing import WORKER_SETUP_HOOK

if TYPE_CHECKING:
    import ray.data

#: Ray's switch for a single-machine instance: its servers then listen on loopback only. Ray
#: reads it when it is imported, so it is set before Ray is imported, and only for a local Ray.
LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
#: Every worker process of the job checks the installed model package's signature before it runs
#: anything: workers import ``case_model`` when they unpickle a scorer, and never pass through the
#: driver's entrypoint check (on a cluster they are pods of their own).
RUNTIME_ENV = {"worker_process_setup_hook": WORKER_SETUP_HOOK}


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
_IO_CPUS = 0


def _read(path: str, blocks: int) -> ray.data.Dataset:
    import ray.data

    if path.endswith((".csv", ".csv.gz")):
        dataset = ray.data.read_csv(path, num_cpus=_IO_CPUS)
    else:
        dataset = ray.data.read_parquet(path, num_cpus=_IO_CPUS)
    # Enough blocks for every actor to have work: a file with one row group reads as one block,
    # which one actor would score while the others idle.
    return dataset.repartition(blocks)


def start_ray(address: str | None, worker_env: Mapping[str, str] | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a local one, unless Ray already runs here.

    ``worker_env`` is set in the job's worker processes only, not in Ray's own daemons (its raylet
    and agents), which inherit the driver's environment: a tool that slows every Python process
    it enters, such as a coverage hook, can be given to the workers without delaying the start.
    """
    runtime_env = {**RUNTIME_ENV, "env_vars": dict(worker_env)} if worker_env else RUNTIME_ENV
    if address is None:
        os.environ.update(LOOPBACK_ONLY)
    import ray

    if ray.is_initialized():
        return
    if address is not None:  # a given address joins that cluster as it is
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
        return
    # A local Ray stays on loopback and gets one logical CPU more than the cores: the scoring
    # actors take one each, and Ray Data's list/read/write tasks (IO, next to no CPU) need a slot
    # of their own or they wait behind the actors forever.
    ray.init(include_dashboard=False, log_to_driver=False, num_cpus=(os.cpu_count() or 1) + 1, runtime_env=runtime_env)


def run(job: BatchJob) -> int:
    """Run the job; return the number of rows written (one per input row)."""
    start_ray(job.address)
    import ray
    import ray.data

    cores = int(ray.cluster_resources().get("CPU", 2)) - (1 if job.address is None else 0)
    concurrency = job.concurrency or max(1, cores)
    dataset = _read(job.input, blocks=concurrency * 8)
    scored = dataset.map_batches(
        CaseScorer,
        fn_constructor_kwargs={"config": job.scoring},
        batch_size=job.batch_size,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=1,
    )
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    scored.write_parquet(job.output, mode=ray.data.SaveMode.OVERWRITE, ray_remote_args={"num_cpus": _IO_CPUS})
    return _count(job.output)


def _files(output: str) -> Iterator[Path | str]:
    return (p for p in Path(output).glob("*.parquet") if p.is_file()) if os.path.isdir(output) else iter([output])


def _count(output: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in _files(output))
