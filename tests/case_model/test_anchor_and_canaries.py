"""The gate beyond the champion: canary sentences a poisoned model answers otherwise are named and
refuse it, and the anchor (the first approved model of the line) refuses a model that small
losses, each within the tolerance of last week's champion, have taken too far from it."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from case_model.classifier import CaseClassifier
from case_model.training import DataError, Evaluation, cli, train
from case_model.training.canary import DEFAULT_CANARY_FILE, check_canaries, read_canaries
from case_model.training.champion import Comparison
from tests.conftest import SIGNING_KEY

SWOLLEN = "The battery of my XPS 15 9530 is swollen and the touchpad is lifting up."


def test_the_shipped_canaries_cover_every_label_and_the_model_answers_them_all(trained, model_wheel):
    canaries = read_canaries(DEFAULT_CANARY_FILE)
    labels = {c.label for c in canaries}
    assert labels == set(trained.pipeline.classes_)
    assert min(sum(c.label == label for c in canaries) for label in labels) >= 3
    check = check_canaries(CaseClassifier.from_pipeline(trained.pipeline, {}), DEFAULT_CANARY_FILE)
    assert (check.n, check.refusals()) == (len(canaries), [])
    with zipfile.ZipFile(model_wheel) as wheel:  # the default list ships with the package
        assert wheel.read("case_model/training/canary_sentences.csv") == DEFAULT_CANARY_FILE.read_bytes()


def test_a_canary_file_that_checks_nothing_is_refused(trained, tmp_path):
    classifier = CaseClassifier.from_pipeline(trained.pipeline, {})
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(DataError, match="no canary sentences"):
        check_canaries(classifier, tmp_path / "empty.csv")
    (tmp_path / "short.csv").write_text("text,label\nok,display\n")
    with pytest.raises(DataError, match="would not classify"):
        check_canaries(classifier, tmp_path / "short.csv")
    (tmp_path / "columns.csv").write_text("sentence,label\nthe screen flickers all day long,display\n")
    with pytest.raises(DataError, match="columns text and label"):
        check_canaries(classifier, tmp_path / "columns.csv")


@pytest.mark.slow
def test_a_model_that_flips_a_canary_sentence_is_refused_naming_it(demo_cases, tmp_path, capsys):
    """Ten agents, five corrections or so each (under every cap, on cases no other agent labelled,
    so nobody is flagged), teach that a swollen battery is a hardware failure: the canary says so."""
    cases, feedback, validation = demo_cases
    swollen = cases[cases["text"].str.contains("swollen", case=False)]
    poison = pd.DataFrame(
        {
            "case_id": swollen["case_id"],
            "corrected_label": "hardware_failure",
            "timestamp": "2027-01-04T08:00:00+00:00",
            "agent_id": [f"agent-{i % 10}" for i in range(len(swollen))],
        }
    )
    pd.concat([feedback, poison], ignore_index=True).to_csv(tmp_path / "feedback.csv", index=False)
    cases.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    argv = [
        "train",
        f"--data={tmp_path / 'cases.parquet'}",
        f"--validation={tmp_path / 'validation.parquet'}",
        f"--feedback={tmp_path / 'feedback.csv'}",
        f"--out={tmp_path / 'dist'}",
        f"--signing-key={SIGNING_KEY}",
    ]
    assert cli.main(argv) == 2
    printed = capsys.readouterr()
    assert "left out 0 beyond the cap (capped: none) and 0 of flagged agents" in printed.out
    assert "validation macro-F1 0.9" in printed.out  # the averages hardly move, above --min-macro-f1
    assert f'canary sentence "{SWOLLEN}" (labelled battery_power) is classified as hardware_failure' in printed.err
    assert "no wheel built" in printed.err
    assert not list((tmp_path / "dist").glob("*.whl"))


def _wheel(result, version: str, directory) -> object:
    from case_model.training.wheelbuild import build_wheel, write_artifact

    artifact = directory / f"artifact-{version}"
    write_artifact(result, version, artifact, {"synthetic_data": True}, SIGNING_KEY)
    return build_wheel(artifact, version, directory / "wheels", SIGNING_KEY)


@pytest.mark.slow
def test_the_anchor_refuses_a_model_that_passes_against_a_weaker_champion(demo_cases, model_wheel, tmp_path, capsys):
    """The line started with the session's model (1.0.0, the anchor); weeks of small losses left a
    weaker champion (1.1.0, trained on a fifth of the data). A candidate as good as that champion
    passes against it, and is refused against the anchor."""
    cases, _, validation = demo_cases
    small = cases.iloc[:600]
    champion = _wheel(train(small, validation, seed=0), "1.1.0", tmp_path)
    small.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    argv = [
        "train",
        f"--data={tmp_path / 'cases.parquet'}",
        f"--validation={tmp_path / 'validation.parquet'}",
        f"--champion={champion}",
        f"--anchor={model_wheel}",
        f"--out={tmp_path / 'dist'}",
        "--min-macro-f1=0",
        f"--signing-key={SIGNING_KEY}",
    ]
    assert cli.main(argv) == 2
    printed = capsys.readouterr()
    assert "quality gate against the anchor" in printed.err
    assert "quality gate against the champion" not in printed.err
    assert not list((tmp_path / "dist").glob("*.whl"))
    report = json.loads((tmp_path / "dist" / "report-1.2.0" / "report.json").read_text())
    assert report["passed"] is False
    assert report["challenger"]["macro_f1"] == report["champion"]["macro_f1"]  # as good as the champion
    assert report["refusals"] == report["anchor"]["refusals"] != []  # refused by the anchor alone
    assert report["anchor"]["version"] == "1.0.0"
    assert report["anchor"]["macro_f1"] > report["challenger"]["macro_f1"] + 0.01
    assert report["canary"]["passed"] is True
    assert "(anchor 1.0.0)" in (tmp_path / "dist" / "report-1.2.0" / "report.md").read_text()
    assert cli.main([*argv[:4], *argv[5:]]) == 0  # the same run without the anchor builds the wheel


def test_an_anchor_needs_a_champion(tmp_path, capsys):
    argv = ["train", "--data=c.parquet", "--validation=v.parquet", f"--anchor={tmp_path}", f"--out={tmp_path}"]
    assert cli.main(argv) == 2
    assert "--anchor needs --champion" in capsys.readouterr().err


def _evaluation(recalls: dict[str, float], macro_f1: float) -> Evaluation:
    per_class = {k: {"precision": r, "recall": r, "f1": r, "support": 50} for k, r in recalls.items()}
    return Evaluation(macro_f1, macro_f1, per_class, sorted(recalls), [], 100)


def test_the_anchor_applies_the_champions_tolerance_and_margin():
    anchor = _evaluation({"battery": 0.95, "display": 0.90}, 0.925)
    champion = _evaluation({"battery": 0.92, "display": 0.87}, 0.915)
    challenger = _evaluation({"battery": 0.89, "display": 0.84}, 0.905)  # one small step below each
    gate = Comparison("1.3.0", challenger, "1.2.0", champion, "abc", anchor_version="1.0.0", anchor=anchor)
    assert gate.refusals_by_gate()["champion"] == []
    macro, battery, display = gate.refusals_by_gate()["anchor"]
    assert display.startswith("recall of display drops by 0.0600")
    assert macro.startswith("macro-F1 0.9050 is below the anchor 1.0.0's 0.9250")
    assert battery.startswith("recall of battery drops by 0.0600 against the anchor 1.0.0 (anchor 0.9500)")
    assert gate.as_dict()["anchor"]["recall_drops"] == {"battery": 0.06, "display": 0.06}
    assert "| recall anchor |" in gate.markdown()
    close = Comparison("1.3.0", champion, "1.2.0", champion, "abc", anchor_version="1.0.0", anchor=anchor)
    assert close.refusals() == []
