"""The retraining entrypoint runs the installed wheel's own ``case-model`` module: a released wheel
may predate the command's move into ``case_model.training``."""

from __future__ import annotations

import pytest

from case_signing import model_cli
from case_signing.signature import ProvenanceError


def test_a_wheel_with_the_training_package_runs_its_command(monkeypatch, tmp_path):
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "cli.py").write_text("")
    monkeypatch.setattr(model_cli, "installed_package_dir", lambda: tmp_path)
    assert model_cli.command_module() == "case_model.training.cli"


def test_a_wheel_from_before_the_move_runs_its_old_command(monkeypatch, tmp_path):
    (tmp_path / "cli.py").write_text("")
    monkeypatch.setattr(model_cli, "installed_package_dir", lambda: tmp_path)
    assert model_cli.command_module() == "case_model.cli"


def test_without_a_package_the_check_says_why(monkeypatch):
    def missing():
        raise ProvenanceError("case_model is not installed")

    monkeypatch.setattr(model_cli, "installed_package_dir", missing)
    assert model_cli.command_module() == "case_model.training.cli"
    with pytest.raises(ProvenanceError):
        missing()
