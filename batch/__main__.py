"""``case-batch``: score a file of cases on Ray and write predictions as Parquet."""

from __future__ import annotations

import argparse
import sys

from batch.pipeline import BatchJob, run
from batch.scoring import ScoringConfig
from case_model.language import DEFAULT_SUPPORTED


def build_parser() -> argparse.ArgumentParser:
    """The ``case-batch`` command line."""
    parser = argparse.ArgumentParser(prog="case-batch", description=__doc__)
    parser.add_argument("--input", required=True, help="cases as Parquet or CSV (case_id, text)")
    parser.add_argument("--output", required=True, help="predictions: a Parquet dataset directory")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--batch-size", type=int, default=1024, help="rows per vectorised predict")
    parser.add_argument("--concurrency", type=int, default=None, help="scoring actors (default: one per CPU)")
    parser.add_argument("--model-dir", default=None, help="artifact directory (default: the installed wheel's)")
    parser.add_argument(
        "--language-mode",
        choices=["external", "local", "off"],
        default="local",
        help="external: the language service through the transformer's client (fallback: local)",
    )
    parser.add_argument("--language-url", default=ScoringConfig.language_url, help="language service detect URL")
    parser.add_argument(
        "--supported-languages", default=",".join(DEFAULT_SUPPORTED), help="comma-separated ISO 639-1 codes"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-batch`` and ``python -m batch``."""
    args = build_parser().parse_args(argv)
    scoring = ScoringConfig(
        model_dir=args.model_dir,
        language_mode=args.language_mode,
        language_url=args.language_url,
        supported_languages=tuple(code.strip() for code in args.supported_languages.split(",") if code.strip()),
    )
    job = BatchJob(args.input, args.output, args.address, args.batch_size, args.concurrency, scoring)
    rows = run(job)
    print(f"wrote {rows} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
