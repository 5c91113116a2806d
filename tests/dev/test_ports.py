"""``make run``'s ports from the environment: ``LANGUAGE_PORT``, and for one release its former
name ``LANGDETECT_PORT``, read below the new one and named in a warning with its new name."""

from __future__ import annotations

import warnings

import pytest

from dev.stack import Ports


def test_the_new_name_sets_the_language_service_port_without_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ports = Ports.from_env({"LANGUAGE_PORT": "9182", "FEEDBACK_PORT": "9183"})
    assert (ports.language, ports.feedback, ports.http) == (9182, 9183, Ports().http)
    assert not caught


def test_the_former_name_still_works_and_warns_naming_the_new_one():
    with pytest.warns(DeprecationWarning, match="LANGDETECT_PORT is the former name of LANGUAGE_PORT"):
        assert Ports.from_env({"LANGDETECT_PORT": "9182"}).language == 9182


def test_the_new_name_wins_over_the_former_one():
    with pytest.warns(DeprecationWarning, match="LANGDETECT_PORT is ignored: LANGUAGE_PORT"):
        assert Ports.from_env({"LANGDETECT_PORT": "9182", "LANGUAGE_PORT": "9282"}).language == 9282
