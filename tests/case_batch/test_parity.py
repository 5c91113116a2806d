"""Batch and online answer alike: the same 1,000 cases through the running chain (transformer,
language service, predictor) and through ``case-batch`` on Ray get the same label, status,
language, confidence and model version."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from case_batch.cli import main
from case_model.training.demo_data import generate_cases
from tests.support.v2 import infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # its own stack: one Ray at a time
CASES = 1000
#: Per request to the chain (the transformer accepts up to 256).
REQUEST_CASES = 125


def _cases() -> pd.DataFrame:
    """Generated cases in six languages, with empty ones, auto-replies, and cases that mix two
    categories (the classifier is unsure of those: low confidence)."""
    rng = random.Random(11)
    generated = generate_cases(CASES - 100, seed=11, prefix="P")
    texts = [case.text for case in generated]
    texts += ["", "   ", "Automatic reply: out of office until Monday", "Abwesenheitsnotiz: nicht im Büro"] * 5
    mixed = [f"{rng.choice(texts[:400])} {rng.choice(texts[400:800])}" for _ in range(80)]
    texts += mixed
    return pd.DataFrame({"case_id": [f"P-{i:04d}" for i in range(len(texts))], "text": texts})


def _online(stack, cases: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for start in range(0, len(cases), REQUEST_CASES):
        part = cases.iloc[start : start + REQUEST_CASES]
        response = infer(stack.transformer_url, infer_body(part["text"].tolist(), part["case_id"].tolist()), 60)
        answer = outputs(response)
        frames.append(
            pd.DataFrame(
                {
                    "case_id": answer["case_id"],
                    "label": answer["label"],
                    "status": answer["status"],
                    "language": answer["language"],
                    "confidence": answer["confidence"],
                    "model_version": response.json().get("model_version"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _batch(cases: pd.DataFrame, artifact_dir, tmp_path) -> pd.DataFrame:
    """The job as ``case-batch`` runs it: its command line, on the module's local Ray."""
    source, target = tmp_path / "cases.parquet", tmp_path / "predictions"
    cases.to_parquet(source)
    argv = ["--input", str(source), "--output", str(target), "--model-dir", str(artifact_dir)]
    assert main([*argv, "--batch-size", "256"]) == 0
    return pd.read_parquet(target)


def test_batch_and_online_give_the_same_answers(stack, artifact_dir, tmp_path, reliability, local_ray):
    cases = _cases()
    online = _online(stack, cases).set_index("case_id").sort_index()
    batch = _batch(cases, artifact_dir, tmp_path).set_index("case_id").sort_index()
    assert list(online.index) == list(batch.index) == sorted(cases["case_id"])
    statuses = set(online["status"])
    assert {"ok", "low_confidence", "empty", "auto_reply", "unsupported_language"} <= statuses, statuses
    for column in ("status", "language", "label"):
        differ = online[column] != batch[column]
        assert not differ.any(), f"{column} differs for {list(online.index[differ])[:5]}"
    np.testing.assert_allclose(online["confidence"].to_numpy(), batch["confidence"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert set(online["model_version"]) == set(batch["model_version"]) == {"1.0.0"}
    reliability.record(
        "Odd texts",
        f"{len(cases):,} generated cases through the chain and through case-batch",
        len(cases),
        "same label, status, language, confidence and model version in both",
    )
