"""Batch throughput: in-process batched predict (the floor) against the Ray pipeline.

    python -m bench.batch_throughput [--cases 100000] [--model-dir DIR]

Both use the installed (or given) model; the Ray figure includes reading Parquet, the text steps,
language detection, prediction and writing Parquet, on a local Ray using every core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--model-dir", default=None)
    args = parser.parse_args()

    from case_batch.pipeline import BatchJob, run, start_ray
    from case_batch.scoring import CaseScorer, ScoringConfig
    from case_model import clean_text, load
    from case_model.training.demo_data import generate_cases

    if args.model_dir is None:
        from dev.install import ensure_model_installed, installed_artifact_dir

        ensure_model_installed()
        args.model_dir = str(installed_artifact_dir())
    model = load(Path(args.model_dir))
    cases = generate_cases(args.cases, seed=123, prefix="B")
    frame = pd.DataFrame({"case_id": [c.case_id for c in cases], "text": [c.text for c in cases]})

    texts = [clean_text(t) or "empty" for t in frame["text"].head(8192)]
    model.predict(texts[:1024])
    started = time.perf_counter()
    for i in range(0, len(texts), 1024):
        model.predict(texts[i : i + 1024])
    floor = len(texts) / (time.perf_counter() - started)

    started = time.perf_counter()
    for text in frame["text"].head(8192):
        clean_text(text)
    cleaning = 8192 / (time.perf_counter() - started)

    scorer = CaseScorer(ScoringConfig(model_dir=args.model_dir))
    sample = frame.head(8192)
    started = time.perf_counter()
    for i in range(0, len(sample), 1024):
        scorer(sample.iloc[i : i + 1024])
    scoring = len(sample) / (time.perf_counter() - started)

    started = time.perf_counter()
    start_ray(None)
    ray_start = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "cases.parquet"
        frame.to_parquet(source)
        started = time.perf_counter()
        rows = run(
            BatchJob(str(source), str(Path(tmp) / "out.parquet"), scoring=ScoringConfig(model_dir=args.model_dir))
        )
        elapsed = time.perf_counter() - started
    ray_rate = rows / elapsed
    print("| path | texts/s |")
    print("|---|---|")
    print(f"| in-process predict, batches of 1,024 (the floor, 1 core) | {floor:,.0f} |")
    print(f"| in-process text steps alone (1 core) | {cleaning:,.0f} |")
    print(f"| in-process full scoring: text steps + language + predict (1 core) | {scoring:,.0f} |")
    print(f"| Ray pipeline, {rows:,} cases: read, score, write Parquet (local Ray, 2 actors) | {ray_rate:,.0f} |")
    print(f"\nlocal Ray start-up: {ray_start:.1f} s (not in the pipeline figure; on KubeRay the cluster is up)")
    print(f"Ray pipeline / floor: {ray_rate / floor:.2f}; with start-up: {rows / (elapsed + ray_start) / floor:.2f}")


if __name__ == "__main__":
    main()
