"""Training: feedback overrides labels, results are reproducible, the gate refuses worse models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from case_model.training import DataError, QualityGateError, check_quality, read_table, train
from case_model.training.corrections import apply_corrections
from case_model.training.versioning import next_version


def test_latest_correction_wins_and_is_counted():
    cases = pd.DataFrame({"case_id": ["a", "b", "c"], "text": ["x", "y", "z"], "label": ["l1", "l1", "l1"]})
    feedback = pd.DataFrame(
        {
            "case_id": ["a", "a", "b", "zzz"],
            "corrected_label": ["l3", "l2", "l1", "l9"],
            "timestamp": [
                "2026-01-02T00:00:00+00:00",
                "2026-01-01T00:00:00+00:00",
                "2026-01-01T00:00:00+00:00",
                "2026-01-01T00:00:00+00:00",
            ],
        }
    )
    corrected, counts = apply_corrections(cases, feedback)
    assert corrected["label"].tolist() == ["l3", "l1", "l1"]
    # b's correction matches its label; zzz is not a training case and has no text to learn from
    assert (counts.read, counts.cases, counts.relabelled, counts.confirmed) == (4, 3, 1, 1)
    assert (counts.added, counts.unmatched) == (0, 1)


def test_corrections_outside_the_training_data_are_added_with_their_text():
    cases = pd.DataFrame({"case_id": ["a"], "text": ["x"], "label": ["l1"]})
    feedback = pd.DataFrame(
        {
            "case_id": ["online-1", "online-2", "online-1"],
            "corrected_label": ["l2", "l3", "l4"],
            "timestamp": ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "2026-01-03T00:00:00+00:00"],
            "text": ["the fan is loud", None, "the fan is loud"],
        }
    )
    corrected, counts = apply_corrections(cases, feedback)
    assert corrected.to_dict("records") == [
        {"case_id": "a", "text": "x", "label": "l1"},
        {"case_id": "online-1", "text": "the fan is loud", "label": "l4"},  # the latest correction
    ]
    assert (counts.added, counts.unmatched, counts.relabelled) == (1, 1, 0)


def test_feedback_from_demo_data_is_applied(trained):
    assert trained.corrections_applied > 0


def test_training_is_reproducible(demo_cases, trained):
    cases, feedback, validation = demo_cases
    again = train(cases, validation, feedback, seed=0)
    texts = validation["text"].tolist()[:200]
    np.testing.assert_array_equal(again.pipeline.predict_proba(texts), trained.pipeline.predict_proba(texts))
    assert again.data_fingerprint == trained.data_fingerprint
    assert again.evaluation.macro_f1 == trained.evaluation.macro_f1


def test_gate_refuses_below_threshold():
    with pytest.raises(QualityGateError, match="below the threshold"):
        check_quality(0.7, 0.8)
    check_quality(0.81, 0.8)


def test_versions_only_go_up():
    assert next_version([]) == "1.0.0"
    assert next_version(["1.0.0", "1.2.0", "1.10.0"]) == "1.11.0"
    with pytest.raises(ValueError, match="not above"):
        next_version(["1.2.0"], "1.1.0")


def test_csv_and_parquet_inputs_and_missing_columns(tmp_path, demo_cases):
    cases = demo_cases[0].head(20)
    cases.to_csv(tmp_path / "c.csv", index=False)
    cases.to_parquet(tmp_path / "c.parquet")
    assert read_table(tmp_path / "c.csv").equals(read_table(tmp_path / "c.parquet").astype(str))
    cases.drop(columns="label").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"missing column.*label"):
        read_table(tmp_path / "bad.csv")
    with pytest.raises(DataError, match=r"expected a \.csv"):
        read_table(tmp_path / "c.json")
