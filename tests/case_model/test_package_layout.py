"""The model wheel serves apart from what trains it: the public names stay, serving loads nothing of
``case_model.training``, the moved modules' old names keep working for one release, and the feedback
store is reached through the interface the wheel owns."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

import case_model
from case_model.training.corrections import corrections_from_store, flag_in_store
from case_model.training.feedback_store import FeedbackStore

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = [
    "MODEL_NAME",
    "UNKNOWN",
    "ArtifactError",
    "CaseClassifier",
    "CaseFlow",
    "Detection",
    "LocalDetector",
    "Predictions",
    "Prepared",
    "Status",
    "StatusRules",
    "Verdict",
    "__version__",
    "clean_text",
    "filter_status",
    "filter_verdict",
    "has_real_words",
    "load",
    "mask_pii",
    "prepare",
    "prepare_many",
    "read_metadata",
    "verify",
]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    environment["PYTHONPATH"] = f"{ROOT / 'case_model' / 'src'}:{ROOT}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False)


def test_the_public_names_stay():
    assert sorted(case_model.__all__) == sorted(PUBLIC)
    assert all(hasattr(case_model, name) for name in PUBLIC)


def test_what_serves_loads_nothing_of_training():
    """What the transformer, predictor and batch scorer import, in a fresh interpreter."""
    serving = (
        "import sys, case_model, case_model.artifact, case_model.classifier, case_model.language, "
        "case_model.linear_model, case_model.prepare, case_model.status, case_model.text; "
        "print(sorted(m for m in sys.modules if m.startswith('case_model.training')))"
    )
    loaded = _python(serving)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_the_case_status_keeps_its_old_names_for_one_release():
    """``Status`` was ``Verdict`` (a name the canary decision keeps) and its filter ``filter_verdict``."""
    from case_model.case_filter import filter_status
    from case_model.status import Status

    assert case_model.Verdict is case_model.Status is Status
    assert case_model.filter_verdict is case_model.filter_status is filter_status
    prepared = case_model.prepare("Automatic reply: out of office")
    assert prepared.verdict is prepared.status is Status.AUTO_REPLY
    sys.modules.pop("case_model.verdict", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from case_model.verdict import Verdict, filter_verdict
    assert (Verdict, filter_verdict) == (Status, filter_status)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_the_linear_model_keeps_its_old_module_name_for_one_release():
    from case_model import linear_model

    sys.modules.pop("case_model.scoring", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import case_model.scoring as old
    assert old is linear_model
    assert any("case_model.linear_model" in str(w.message) for w in caught)


@pytest.mark.parametrize("name", ["demo_data", "corrections", "versioning", "cli"])
def test_a_moved_module_keeps_its_old_name_for_one_release(name):
    sys.modules.pop(f"case_model.{name}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = __import__(f"case_model.{name}", fromlist=["_"])
    new = __import__(f"case_model.training.{name}", fromlist=["_"])
    assert old is new
    assert any(
        issubclass(w.category, DeprecationWarning) and f"case_model.training.{name}" in str(w.message) for w in caught
    )


def test_the_old_command_module_still_runs_and_says_where_it_went():
    ran = _python(
        "import runpy, sys; sys.argv = ['x', '--help']; runpy.run_module('case_model.cli', run_name='__main__')"
    )
    assert ran.returncode == 0, ran.stderr
    assert "demo-data" in ran.stdout
    assert "case_model.training.cli" in ran.stderr


def test_the_feedback_services_store_is_a_feedback_store(tmp_path):
    from case_feedback.service.store import Store

    store = Store(f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    try:
        assert isinstance(store, FeedbackStore)
    finally:
        store.close()


@dataclass(frozen=True)
class _Corrected:
    case_id: str
    label: str
    corrected_at: datetime
    text: str | None
    agent_id: str


class _StandIn:
    """Any store with the interface's calls: training needs nothing else of it."""

    dialect = "memory"

    def __init__(self) -> None:
        self.flagged: list[str] = []

    def corrected_cases(self) -> list[_Corrected]:
        return [_Corrected("C-1", "display", datetime(2026, 1, 1), "the screen flickers", "")]

    def flag_agents(self, agent_ids, now):
        new = [agent for agent in agent_ids if agent not in self.flagged]
        self.flagged.extend(new)
        return len(new)

    def close(self) -> None:
        pass


def test_training_reads_and_flags_through_the_interface():
    store = _StandIn()
    assert isinstance(store, FeedbackStore)
    frame = corrections_from_store(store)
    assert frame.to_dict("records") == [
        {
            "case_id": "C-1",
            "corrected_label": "display",
            "timestamp": "2026-01-01T00:00:00",
            "text": "the screen flickers",
            "agent_id": "unknown",
        }
    ]
    assert flag_in_store(store, ["a-1", "a-2"]) == 2
    assert flag_in_store(store, ["a-1"]) == 0
