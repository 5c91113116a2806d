"""The batch job on a real local Ray: one row out per row in, the same predictions as in-process."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from case_batch.pipeline import BatchJob, run
from case_batch.scoring import CaseScorer, ScoringConfig
from case_language.client import ClientConfig
from case_model import Status, load, prepare
from case_model.training.corrections import read_corrections
from dev.adversarial import FAMILIES, PROSE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


@pytest.fixture(scope="module")
def cases(demo_cases) -> pd.DataFrame:
    validation = demo_cases[2][["case_id", "text"]].head(400).astype(object)
    bad = pd.DataFrame({"case_id": ["BAD-1", "BAD-2", None], "text": [None, 42, "a case with no id at all here"]})
    return pd.concat([validation, bad], ignore_index=True)


@pytest.fixture(scope="module")
def batch_output(cases, artifact_dir, tmp_path_factory, local_ray) -> Path:
    """The predictions of a real run of the job, as it wrote them."""
    root = tmp_path_factory.mktemp("batch")
    source = root / "cases.parquet"
    cases.assign(text=cases["text"].map(lambda t: t if t is None or isinstance(t, str) else str(t))).to_parquet(source)
    # Parquet cannot hold an int among strings: the wrong-type row is exercised in-process below.
    output = root / "predictions.parquet"
    job = BatchJob(str(source), str(output), batch_size=128, scoring=ScoringConfig(model_dir=str(artifact_dir)))
    assert run(job) == len(cases)
    return output


@pytest.fixture(scope="module")
def predictions(batch_output) -> pd.DataFrame:
    return pd.read_parquet(batch_output)


def test_one_output_row_per_input_row(cases, predictions):
    assert sorted(predictions["case_id"]) == sorted("" if c is None else c for c in cases["case_id"])


def test_same_predictions_as_the_in_process_model(cases, predictions, artifact_dir):
    model = load(artifact_dir)
    scored = predictions[predictions["status"].isin(["ok", "low_confidence"])].set_index("case_id")
    assert len(scored) > 300
    texts = cases.set_index("case_id").loc[scored.index, "text"]
    expected = model.predict([prepare(t).text for t in texts])
    assert scored["label"].tolist() == expected.labels
    np.testing.assert_allclose(scored["confidence"].to_numpy(), expected.confidences, rtol=1e-6)
    assert (scored["model_version"] == model.version).all()
    assert all(len(top) == 3 for top in scored["top_labels"])


def test_filtered_and_foreign_cases_keep_their_reason(predictions):
    statuses = set(predictions["status"])
    assert {"ok", "unsupported_language"} <= statuses
    assert statuses & {"empty", "auto_reply", "too_short"}
    classified = predictions["status"].isin(["ok", "low_confidence"])
    assert (predictions.loc[~classified, "label"] == "").all()
    assert (predictions.loc[classified, "label"] != "").all()  # unsure cases keep their label, as online


def test_bad_rows_are_kept_with_a_reason(predictions):
    bad = predictions[predictions["status"] == Status.INVALID.value].set_index("error")
    assert "missing text" in bad.index
    assert "missing case_id" in bad.index


def test_wrong_type_is_reported_not_dropped(artifact_dir):
    scorer = CaseScorer(ScoringConfig(model_dir=str(artifact_dir)))
    out = scorer(pd.DataFrame({"case_id": ["a", "b"], "text": [42, "The fan of my laptop is very loud."]}))
    assert out["status"].tolist() == ["invalid", "ok"]
    assert out["error"].tolist()[0] == "text is int, not a string"


def test_external_language_service_gives_the_same_answers(artifact_dir, demo_cases, tmp_path):
    """The batch job calls the language service through the transformer's client, batched."""
    from dev.stack import Ports, Stack, start_service
    from tests.conftest import SOURCE_ENV
    from tests.support.v2 import metric

    stack, service = start_service(Stack(ports=Ports.any(), env=SOURCE_ENV), "language", tmp_path)
    try:
        batch = demo_cases[2][["case_id", "text"]].head(300)
        url = stack.url(stack.ports.language)
        external = CaseScorer(
            ScoringConfig(
                model_dir=str(artifact_dir),
                language_mode="external",
                language=ClientConfig(url=f"{url}/v1/detect", timeout_seconds=5.0, batch_max_size=1024),
            )
        )(batch)
        calls = metric(url, "case_classifier_language_service_requests_total", {"status": "200"})
    finally:
        service.stop()
    local = CaseScorer(ScoringConfig(model_dir=str(artifact_dir)))(batch)
    assert calls == 1  # one call for the whole batch
    assert external["language"].tolist() == local["language"].tolist()
    assert external["status"].tolist() == local["status"].tolist()
    assert external["label"].tolist() == local["label"].tolist()


def _scoring_seconds(scorer: CaseScorer, batch: pd.DataFrame) -> float:
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        scorer(batch)
        best = min(best, time.perf_counter() - started)
    return best


def test_hostile_rows_do_not_slow_the_batch(artifact_dir, demo_cases, reliability):
    """One 32k-character row of every hostile family among 1,000 cases: the batch costs about what
    it costs with plain rows of the same lengths in their place (measured in this run)."""
    scorer = CaseScorer(ScoringConfig(model_dir=str(artifact_dir)))
    rows = demo_cases[2][["case_id", "text"]].head(1000).reset_index(drop=True)
    hostile, plain = rows.copy(), rows.copy()
    for index, build in enumerate(FAMILIES.values()):
        hostile.loc[index * 19, "text"] = build(32_000)
        plain.loc[index * 19, "text"] = PROSE(32_000)
    assert len(scorer(hostile)) == len(hostile)
    ratio = _scoring_seconds(scorer, hostile) / _scoring_seconds(scorer, plain)
    assert ratio <= 4.0, f"hostile rows made the batch {ratio:.1f}x slower"
    reliability.record(
        "Odd texts",
        f"batch of 1,000 cases with {len(FAMILIES)} hostile 32k rows (one per family)",
        1,
        f"{ratio:.1f}x the time with plain 32k rows in their place",
    )


def test_the_output_loads_into_the_feedback_store_and_batch_cases_can_be_corrected(
    batch_output, predictions, feedback, capsys, tmp_path
):
    from case_batch.feedback import main as load_feedback
    from tests.support.auth import write_token

    # The loader presents a service token, as its projected service-account token on the cluster.
    token = tmp_path / "service-token"
    write_token(token, ["service"], "batch-loader", 3 * 3600)
    status = load_feedback(
        [
            str(batch_output),
            "--feedback-url",
            f"{feedback.url}/v1/predictions",
            "--chunk-rows",
            "100",
            "--feedback-token-file",
            str(token),
        ]
    )
    assert status == 0
    invalid = int((predictions["error"] != "").sum())
    assert f"loaded {len(predictions) - invalid} predictions" in capsys.readouterr().out
    scored = predictions[predictions["status"] == "ok"].iloc[0]
    wrong = "display" if scored["label"] != "display" else "storage"
    answer = feedback.correct((scored["case_id"], wrong))
    assert answer.json() == {"accepted": 1, "unknown_case_ids": []}  # the batch case is known
    exported = read_corrections(feedback.store_url).set_index("case_id")
    assert exported.loc[scored["case_id"], "text"] == scored["text"]  # the masked text the model saw
    assert scored["text"] == prepare(scored["text"]).text
