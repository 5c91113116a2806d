"""The per-case status flow the transformer and the batch scorer share (case_model.CaseFlow)."""

from __future__ import annotations

import pytest

from case_model import CaseFlow, Status, StatusRules

BATTERY = "The laptop battery drains within an hour even when the lid is closed."
FAN = "The fan is very loud and the laptop gets hot under light load."
AUTO = "Automatic reply: I am out of the office until Monday."
RULES = StatusRules.of(["en", "de"], 0.5)


def test_intake_cleans_and_filters_each_case_and_marks_unreadable_ones_invalid() -> None:
    flow = CaseFlow.start(["", BATTERY, None, AUTO, "help"])
    assert flow.statuses == [Status.EMPTY, Status.OK, Status.INVALID, Status.AUTO_REPLY, Status.TOO_SHORT]
    assert flow.texts[2] == ""
    assert flow.texts[1] == BATTERY
    assert flow.languages == ["unknown"] * 5
    assert flow.classifiable() == [1]


def test_a_known_unsupported_language_is_not_classified_and_an_unknown_one_is() -> None:
    flow = CaseFlow.start([BATTERY, FAN, BATTERY])
    flow.record_languages([0, 1, 2], ["fr", "unknown", "de"], RULES)
    assert flow.statuses == [Status.UNSUPPORTED_LANGUAGE, Status.OK, Status.OK]
    assert flow.languages == ["fr", "unknown", "de"]
    assert flow.classifiable() == [1, 2]
    assert flow.texts_of([2, 1]) == [flow.texts[2], flow.texts[1]]


def test_an_unsure_prediction_goes_to_a_human_and_a_refused_case_is_never_reopened() -> None:
    flow = CaseFlow.start(["", BATTERY, FAN])
    flow.record_confidences([1, 2], [0.49, 0.5], RULES)
    assert flow.status_values() == ["empty", "low_confidence", "ok"]
    flow.record_languages([0], ["en"], RULES)  # an empty case stays empty, whatever comes later
    flow.record_confidences([0], [0.99], RULES)
    assert flow.statuses[0] is Status.EMPTY


def test_answers_for_a_different_number_of_cases_are_refused() -> None:
    flow = CaseFlow.start([BATTERY, FAN])
    with pytest.raises(ValueError, match="zip"):
        flow.record_confidences([0, 1], [0.9], RULES)
    with pytest.raises(ValueError, match="zip"):
        flow.record_languages([0], ["en", "de"], RULES)
