"""Training reads agents' corrections from the feedback store: the latest correction of each case
with the masked text the model saw, and accounts for every one of them."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import UTC, datetime

import pytest

from case_feedback.service.store import Correction, Store
from case_model.training import DataError, classifiable, cli
from case_model.training.corrections import apply_corrections, read_corrections
from tests.support.events import answered, event

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group("feedback")
def test_the_store_export_has_the_latest_correction_and_the_masked_text(feedback):
    ids = f"X-{uuid.uuid4().hex[:8]}"
    feedback.log([event(f"{ids}-1", "1.0.0", text="the fan is very loud when I play games")])
    feedback.log([event(f"{ids}-2", "1.0.0")])
    feedback.correct((f"{ids}-1", "display"))
    feedback.correct((f"{ids}-1", "thermal_fan"), (f"{ids}-unseen", "storage"))
    exported = read_corrections(feedback.store_url).set_index("case_id")
    mine = exported[exported.index.str.startswith(ids)]
    assert sorted(mine.index) == [f"{ids}-1", f"{ids}-unseen"]  # the uncorrected case is not exported
    assert mine.loc[f"{ids}-1", "corrected_label"] == "thermal_fan"
    assert mine.loc[f"{ids}-1", "text"] == "the fan is very loud when I play games"
    assert mine.loc[f"{ids}-unseen", "text"] is None


def test_training_from_the_store_counts_every_correction(demo_cases, tmp_path, capsys):
    cases, _, validation = demo_cases
    store_url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    store = Store(store_url)
    store.migrate()
    training_case = cases.iloc[0]
    other = "storage" if training_case["label"] != "storage" else "display"
    now = datetime.now(UTC)
    online = [
        answered(f"ON-{i}", text)
        for i, text in enumerate(["my ssd is not detected after the update", "the disk makes clicking noises"])
    ]
    store.add_predictions(online, now)
    store.add_corrections(
        [
            Correction(str(training_case["case_id"]), other, "a-1", "crm-1"),  # relabels a training case
            Correction(str(cases.iloc[1]["case_id"]), str(cases.iloc[1]["label"]), "a-1", "crm-1"),  # confirms one
            Correction("ON-0", "storage", "a-1", "crm-1"),  # online cases: added with their texts
            Correction("ON-1", "storage", "a-1", "crm-1"),
            Correction("NEVER-SEEN", "storage", "a-2", "crm-1"),  # no text anywhere: counted, not learnt
        ],
        now,
    )
    store.close()
    cases.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    argv = ["train", "--data", str(tmp_path / "cases.parquet"), "--validation", str(tmp_path / "validation.parquet")]
    status = cli.main([*argv, "--feedback", store_url, "--out", str(tmp_path / "dist"), "--min-macro-f1", "0"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert (
        "corrections: 5 read for 5 cases; 1 relabelled, 1 confirmed, 2 added with their stored text, "
        "1 without a text to learn from"
    ) in printed
    (wheel,) = (tmp_path / "dist").glob("case_model-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = json.loads(archive.read("case_model/_artifact/metadata.json"))
    assert metadata["corrections"] == {
        "read": 5,
        "cases": 5,
        "relabelled": 1,
        "confirmed": 1,
        "added": 2,
        "unmatched": 1,
    }
    # The two online cases were learnt from: two more training rows than the training data gives.
    assert metadata["n_train"] == len(classifiable(cases)[0]) + 2


def test_an_unreachable_store_is_a_clear_error_without_its_password():
    url = "postgresql+psycopg://reader:hunter2@127.0.0.1:1/feedback"
    with pytest.raises(DataError) as failure:
        read_corrections(url)
    assert "hunter2" not in str(failure.value)
    assert "cannot read the feedback store (postgresql)" in str(failure.value)


def test_corrections_without_texts_from_a_file_still_count(tmp_path):
    import pandas as pd

    path = tmp_path / "feedback.csv"
    path.write_text("case_id,corrected_label,timestamp\nZ-1,storage,2026-01-01T00:00:00+00:00\n")
    corrections = read_corrections(str(path))
    cases = pd.DataFrame({"case_id": ["A"], "text": ["x"], "label": ["display"]})
    _, counts = apply_corrections(cases, corrections)
    assert (counts.read, counts.unmatched, counts.added) == (1, 1, 0)
