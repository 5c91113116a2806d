"""Retraining: the new model and the production wheel are scored on the same validation set, the
gate refuses a worse one with a report saying why, and the next wheel builds from an installed
package as well as from a checkout."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from case_feedback.service.store import Correction, Store
from case_model.training import Evaluation, cli
from case_model.training.champion import Comparison
from case_model.training.wheelcheck import check_wheel
from tests.support.events import answered

pytestmark = pytest.mark.slow


@pytest.fixture
def files(demo_cases, tmp_path):
    cases, _, validation = demo_cases
    cases.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    return tmp_path / "cases.parquet", tmp_path / "validation.parquet"


def _train(data: Path, validation: Path, champion: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data",
        str(data),
        "--validation",
        str(validation),
        "--champion",
        str(champion),
        "--out",
        str(out),
        "--min-macro-f1",
        "0",
        *extra,
    ]


def test_a_worse_model_is_refused_against_the_champion_on_the_same_cases(
    files, demo_cases, model_wheel, tmp_path, capsys
):
    _, validation = files
    cases = demo_cases[0].copy()
    cases["label"] = np.random.default_rng(0).permutation(cases["label"].to_numpy())  # labels no longer mean anything
    cases.to_parquet(tmp_path / "shuffled.parquet")
    status = cli.main(_train(tmp_path / "shuffled.parquet", validation, model_wheel, tmp_path / "dist"))
    printed = capsys.readouterr()
    assert status == 2
    assert "quality gate against the champion" in printed.err
    assert "below the champion 1.0.0's" in printed.err
    assert not list((tmp_path / "dist").glob("*.whl")), "a refused model must not be built"
    report = json.loads((tmp_path / "dist" / "report-1.1.0" / "report.json").read_text())
    assert report["passed"] is False
    assert report["validation_sha256"] == hashlib.sha256(validation.read_bytes()).hexdigest()
    # Both models on the same cases: the champion's figures are its own on this very set.
    assert report["champion"]["n_validation"] == report["challenger"]["n_validation"]
    assert report["champion"]["version"] == "1.0.0"
    assert report["champion"]["macro_f1"] > report["challenger"]["macro_f1"] + 0.3
    assert (tmp_path / "dist" / "report-1.1.0" / "confusion_champion.png").stat().st_size > 1000


@pytest.mark.parametrize("as_on_the_cluster", [False, True], ids=["url-and-wheel", "secret-file-and-image-dir"])
def test_retraining_from_the_store_passes_the_gate_and_builds_the_next_version(
    files, model_wheel, trained, tmp_path, capsys, as_on_the_cluster
):
    """From a checkout: the store's URL and the champion's wheel file. As the retraining CronJob
    runs it: the URL from a mounted Secret file, the champion the wheel its image keeps."""
    data, validation = files
    store_url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    store = Store(store_url)
    store.migrate()
    now = datetime.now(UTC)
    texts = ["my ssd is not detected after the update", "the disk makes clicking noises when it starts"]
    store.add_predictions([answered(f"ST-{i}", t, confidence=0.5) for i, t in enumerate(texts)], now)
    store.add_corrections([Correction(f"ST-{i}", "storage", "a-1", "crm-1") for i in range(2)], now)
    store.close()
    source, champion = ["--feedback", store_url], model_wheel
    if as_on_the_cluster:
        (tmp_path / "url").write_text(store_url + "\n")
        champion = tmp_path / "champion"
        champion.mkdir()
        (champion / model_wheel.name).write_bytes(model_wheel.read_bytes())
        source = ["--feedback-url-file", str(tmp_path / "url")]
    status = cli.main(_train(data, validation, champion, tmp_path / "dist", *source))
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "2 added with their stored text" in printed
    assert "champion 1.0.0: macro-F1" in printed
    report = json.loads((tmp_path / "dist" / "report-1.1.0" / "report.json").read_text())
    assert report["passed"] is True
    # The champion scored on this set is the wheel's model: the same figure as training measured.
    assert report["champion"]["macro_f1"] == pytest.approx(trained.evaluation.macro_f1, abs=1e-4)
    (wheel,) = (tmp_path / "dist").glob("case_model-*.whl")
    assert wheel.name == "case_model-1.1.0-py3-none-any.whl"
    assert check_wheel(wheel) == []


def _evaluation(recalls: dict[str, float], macro_f1: float) -> Evaluation:
    per_class = {k: {"precision": r, "recall": r, "f1": r, "support": 50} for k, r in recalls.items()}
    return Evaluation(macro_f1, macro_f1, per_class, sorted(recalls), [], 100)


def test_an_unreadable_store_url_file_or_champion_directory_is_a_clear_error(files, model_wheel, tmp_path, capsys):
    data, validation = files
    missing = ["--feedback-url-file", str(tmp_path / "nope")]
    assert cli.main(_train(data, validation, model_wheel, tmp_path / "dist", *missing)) == 2
    assert f"cannot read the feedback store URL from {tmp_path / 'nope'}" in capsys.readouterr().err
    (tmp_path / "empty").write_text("\n")
    empty = ["--feedback-url-file", str(tmp_path / "empty")]
    assert cli.main(_train(data, validation, model_wheel, tmp_path / "dist", *empty)) == 2
    assert "is empty" in capsys.readouterr().err
    assert cli.main(_train(data, validation, tmp_path, tmp_path / "dist")) == 2  # no wheel in it
    assert "holds 0 case_model wheels; expected one" in capsys.readouterr().err


def test_the_gate_catches_a_class_that_stops_being_found_behind_a_good_average():
    champion = _evaluation({"battery": 0.90, "display": 0.80}, 0.85)
    challenger = _evaluation({"battery": 0.99, "display": 0.72}, 0.855)
    comparison = Comparison("1.1.0", challenger, "1.0.0", champion, "abc", f1_tolerance=0.01, max_recall_drop=0.05)
    (reason,) = comparison.refusals()
    assert reason.startswith("recall of display drops by 0.0800")
    relaxed = Comparison("1.1.0", challenger, "1.0.0", champion, "abc", f1_tolerance=0.01, max_recall_drop=0.1)
    assert relaxed.refusals() == []
    slightly_worse = _evaluation({"battery": 0.89, "display": 0.80}, 0.845)
    assert Comparison("1.1.0", slightly_worse, "1.0.0", champion, "abc").refusals() == []


def test_the_next_wheel_builds_from_an_installed_package(model_wheel, files, tmp_path):
    """A retraining job runs from an image with the wheel installed, not from a checkout."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(model_wheel)],
        check=True,
    )
    data, validation = files
    # Ahead of the editable checkout; not measured: the installed copy is not the project's source.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")} | {"PYTHONPATH": str(site)}
    script = (
        "import sys, case_model, case_model.training.cli as cli; print(case_model.__file__, file=sys.stderr); "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    argv = _train(data, validation, model_wheel, tmp_path / "dist", "--built-file", str(tmp_path / "built"))
    result = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines()[0].startswith(str(site))
    wheel = Path((tmp_path / "built").read_text().strip())
    assert wheel.name == "case_model-1.1.0-py3-none-any.whl"
    assert check_wheel(wheel) == []
    with zipfile.ZipFile(wheel) as archive:
        assert "case_model/_project/pyproject.toml" in archive.namelist()
