"""The language service's settings: ``LANGUAGE_*`` variables, and for one release their former
names ``LANGDETECT_*``, read below the new ones and each named in a warning with its new name;
a flag wins over both."""

from __future__ import annotations

import argparse
import logging
import os
import warnings

import pytest

from case_language.service.settings import LanguageServiceSettings
from case_serving.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Neither prefix set, but by the test."""
    for name in list(os.environ):
        if name.upper().startswith(("LANGUAGE_", "LANGDETECT_")):
            monkeypatch.delenv(name)


def _load(argv: list[str] | None = None) -> LanguageServiceSettings:
    settings, _ = load_settings(LanguageServiceSettings, argparse.ArgumentParser(prog="case-language"), argv or [])
    return settings


def test_the_new_names_are_read_without_a_warning(monkeypatch):
    monkeypatch.setenv("LANGUAGE_MAX_TEXTS", "7")
    monkeypatch.setenv("LANGUAGE_LANGUAGES", "en,de")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = _load()
    assert (settings.max_texts, settings.languages) == (7, ("en", "de"))
    assert not caught


def test_a_former_name_still_works_and_warns_naming_the_new_one(monkeypatch, caplog):
    monkeypatch.setenv("LANGDETECT_MAX_TEXTS", "5")
    monkeypatch.setenv("LANGDETECT_PORT", "9182")
    with caplog.at_level(logging.WARNING), pytest.warns(DeprecationWarning, match="former name") as caught:
        settings = _load()
    assert (settings.max_texts, settings.port) == (5, 9182)
    messages = sorted(str(warning.message) for warning in caught)
    assert len(messages) == 2
    assert messages[0].startswith("LANGDETECT_MAX_TEXTS is the former name of LANGUAGE_MAX_TEXTS")
    assert messages[1].startswith("LANGDETECT_PORT is the former name of LANGUAGE_PORT")
    logged = {record.variable: record.new_name for record in caplog.records if hasattr(record, "variable")}
    assert logged == {"LANGDETECT_MAX_TEXTS": "LANGUAGE_MAX_TEXTS", "LANGDETECT_PORT": "LANGUAGE_PORT"}
    assert all(record.levelno == logging.WARNING for record in caplog.records if hasattr(record, "variable"))


def test_the_new_name_wins_over_the_former_one(monkeypatch):
    monkeypatch.setenv("LANGDETECT_MAX_TEXTS", "5")
    monkeypatch.setenv("LANGUAGE_MAX_TEXTS", "7")
    with pytest.warns(DeprecationWarning, match="LANGDETECT_MAX_TEXTS is ignored: LANGUAGE_MAX_TEXTS"):
        assert _load().max_texts == 7


def test_a_flag_wins_over_both_names(monkeypatch):
    monkeypatch.setenv("LANGDETECT_MAX_TEXTS", "5")
    monkeypatch.setenv("LANGUAGE_MIN_CONFIDENCE", "0.9")
    monkeypatch.setenv("LANGDETECT_MIN_CONFIDENCE", "0.8")
    with pytest.warns(DeprecationWarning, match="LANGDETECT_"):
        settings = _load(["--max-texts", "9", "--min-confidence", "0.7"])
    assert (settings.max_texts, settings.min_confidence) == (9, 0.7)
