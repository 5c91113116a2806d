"""One flag style: our flags are kebab-case on every command line; the flags KServe defines keep
KServe's names; the former underscore spelling of ours is read for one release, with a warning."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import pytest
from kserve.model_server import parser as kserve_parser

from case_feedback.service.settings import FeedbackSettings
from case_language.service.settings import LanguageServiceSettings
from case_serving.settings import load_settings
from predictor.settings import PredictorSettings
from transformer.settings import TransformerSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (TransformerSettings, PredictorSettings, LanguageServiceSettings, FeedbackSettings)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


@pytest.mark.parametrize("settings_cls", SERVICES, ids=lambda cls: cls.__name__)
def test_our_flags_are_kebab_case_beside_kserves_own(settings_cls) -> None:
    parser = argparse.ArgumentParser(parents=[kserve_parser], add_help=False)
    kserve = _options(kserve_parser)
    load_settings(settings_cls, parser, [])
    ours = _options(parser) - kserve
    assert ours, "no flags of ours"
    assert not [flag for flag in ours if "_" in flag]
    assert "--http_port" in _options(parser)  # KServe's, as KServe names it


def test_the_former_underscore_spelling_still_works_and_warns(caplog) -> None:
    parser = argparse.ArgumentParser()
    with pytest.warns(DeprecationWarning, match="--max_texts is the former spelling of --max-texts"):
        settings, _ = load_settings(LanguageServiceSettings, parser, ["--max_texts=7", "--min-confidence", "0.25"])
    assert (settings.max_texts, settings.min_confidence) == (7, 0.25)
    assert "write --max-texts" in caplog.text


def test_no_command_line_of_ours_writes_the_former_spelling() -> None:
    """The manifests, the README, the local stack and the tests write our flags one way (a prefix
    test such as ``arg.startswith("--corrections-per")`` included)."""
    names = {name for cls in SERVICES for name in cls.model_fields if "_" in name}
    prefixes = {name[:end] for name in names for end in range(name.index("_") + 2, len(name) + 1)}
    former = re.compile(r"--(" + "|".join(sorted(prefixes, key=len, reverse=True)) + r")(?![a-z0-9_])")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    exempt = {"case_serving/case_serving/settings.py", "tests/case_serving/test_flag_style.py"}
    offenders = []
    for name in files:
        path = ROOT / name
        if name in exempt or path.suffix not in {".py", ".yaml", ".yml", ".md", ".sh", ""} or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if "former" in line or "(underscores)" in line:  # the rename's own notes name the old spelling
                continue
            offenders += [f"{name}: {m.group(0)}" for m in former.finditer(line)]
    assert not offenders, offenders[:10]
