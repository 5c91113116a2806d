"""The served model as a pickled scikit-learn pipeline, for the alternatives the benchmark compares.

The product ships no pickle (``case_model.scoring``), but MLServer's sklearn runtime, the FastAPI
app and the plain KServe predictor load a joblib file, as their own examples do. Training is
deterministic, so the pipeline is fitted again from the data ``make model`` trained on, with the
installed model's seed, and checked to give the served model's probabilities exactly before it is
written into the benchmark's scratch directory. Not part of the product.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np

from case_model import CaseClassifier

PICKLE_FILE = "model.joblib"


def write_pickled_model(served: CaseClassifier, data_dir: Path, texts: list[str], out_dir: Path) -> Path:
    """Refit the served model's pipeline, check it against ``served`` on ``texts``, dump it; return the directory."""
    from case_model.training import read_table, train
    from case_model.training.corrections import read_corrections

    feedback = data_dir / "feedback.csv"
    result = train(
        read_table(data_dir / "cases.parquet"),
        read_table(data_dir / "validation.parquet"),
        read_corrections(str(feedback)) if feedback.is_file() else None,
        seed=int(served.metadata["seed"]),
    )
    if not np.array_equal(result.pipeline.predict_proba(texts), served.scorer.predict_proba(texts)):
        raise SystemExit(f"the pipeline refitted from {data_dir} is not the installed model: run make model first")
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(result.pipeline, out_dir / PICKLE_FILE)
    return out_dir
