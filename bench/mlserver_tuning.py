"""``python -m bench.mlserver_tuning``: MLServer's adaptive batching, tuned by experiment.

MLServer's documentation leaves ``max_batch_size`` and ``max_batch_time`` to experiment, for each
model and load. This runs MLServer (sklearn runtime, the benchmark's model and cleaned texts) for
each pair of a small grid at the benchmark's concurrencies and prints req/s and p99 per pair; the
pair with the most req/s at 32 in flight (p99 under its unbatched p99) goes into
``bench.alternatives.BEST_BATCHING``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from bench import alternatives, wrk
from bench.__main__ import INFER, _bodies
from case_model import clean_text
from case_model.training.demo_data import generate_cases
from dev.install import ensure_model_installed, installed_artifact_dir

SIZES = (8, 16, 32, 64)
WAITS = (0.001, 0.002, 0.005, 0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", default="8,32", type=lambda v: [int(c) for c in v.split(",")])
    args = parser.parse_args()
    ensure_model_installed()
    model_dir = str(installed_artifact_dir())
    cleaned = [text for text in (clean_text(case.text) for case in generate_cases(400, seed=99, prefix="W")) if text]
    bodies = _bodies(cleaned)
    tmp = Path(tempfile.mkdtemp(prefix="mlserver-tuning-"))
    columns = " | ".join(f"c{c} req/s (p99 ms)" for c in args.concurrency)
    print(f"| max_batch_size | max_batch_time ms | {columns} |")
    print("|---|---|" + "---|" * len(args.concurrency))
    for batching in [None, *itertools.product(SIZES, WAITS)]:
        found = alternatives.mlserver(model_dir, tmp, batching)
        if found is None:
            raise SystemExit(f"MLServer is not installed in {alternatives.MLSERVER_VENV}: run make bench once")
        running, url = found(tmp / "logs")
        try:
            script = wrk.lua_script(INFER, bodies, tmp)
            wrk.run(url, script, 8, 1)  # warm-up
            runs = [wrk.run(url, script, c, args.seconds) for c in args.concurrency]
        finally:
            running.stop()
        size, wait = batching if batching else ("off", 0)
        cells = " | ".join(f"{r.rps:,.0f} ({r.p99_ms:.1f})" for r in runs)
        print(f"| {size} | {wait * 1000:g} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
