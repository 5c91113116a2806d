"""The transformer's planning and merging (``transformer.cases``) on hand-built requests.

These functions decide which cases the predictor sees, what status each case carries, and how the
predictor's answers go back into the CRM's order; the stack tests see the same behaviour through
four processes, these see each rule on its own in microseconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse, RequestedOutput

from case_model import StatusRules
from case_serving import schema
from case_serving.limits import RequestLimits
from case_serving.tensors import bytes_output, fp32_output, top_k_outputs
from transformer.cases import (
    Answers,
    Plan,
    apply_languages,
    apply_predictions,
    decode_answers,
    plan_request,
    prediction_events,
    predictor_request,
    response_for,
    text_chars,
)

LIMITS = RequestLimits(schema.names(schema.TRANSFORMER_INPUTS), 256, schema.names(schema.TRANSFORMER_OUTPUTS))
RULES = StatusRules.of(["en", "de"], 0.5)
BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
FAN = "The fan of my laptop is extremely loud and it overheats when idle."
AUTO = "Automatic reply: I am out of the office until Monday."
K = schema.TOP_K


def _request(texts: list, case_ids: list | None = None, request_id: str = "r-1", **parameters: object) -> InferRequest:
    inputs = [InferInput(schema.TEXT, [len(texts)], "BYTES", texts)]
    if case_ids is not None:
        inputs.append(InferInput(schema.CASE_ID, [len(case_ids)], "BYTES", case_ids))
    return InferRequest("case-classifier", inputs, request_id=request_id, parameters=parameters or None)


def _plan(texts: list[str], **parameters: object) -> Plan:
    return plan_request(_request(texts, **parameters), LIMITS, 4000)


def _answers(labels: list[str], confidences: list[float], version: str | None = "1.0.0") -> Answers:
    return Answers(
        labels=labels,
        confidences=confidences,
        top_labels=[x for label in labels for x in (label, "display", "storage")],
        top_probabilities=[x for c in confidences for x in (c, (1 - c) / 2, (1 - c) / 2)],
        explanations=[json.dumps([[label, 1.0]]) for label in labels],
        model_version=version,
    )


def test_each_case_gets_its_filter_verdict_in_order():
    plan = _plan(["", BATTERY, AUTO, "help", "   ", FAN])
    assert plan.statuses == ["empty", "ok", "auto_reply", "too_short", "empty", "ok"]
    assert plan.classifiable == [1, 5]
    assert plan.languages == ["unknown"] * 6  # nothing detected yet
    assert plan.labels == [""] * 6  # nothing answered yet


def test_case_ids_are_kept_and_default_to_empty():
    assert _plan([BATTERY, FAN]).case_ids == ["", ""]
    plan = plan_request(_request([BATTERY, FAN], ["C-1", "C-2"]), LIMITS, 4000)
    assert plan.case_ids == ["C-1", "C-2"]


def test_case_id_count_must_match_the_texts():
    with pytest.raises(InvalidInput, match="'case_id' has 1 elements but 'text' has 2"):
        plan_request(_request([BATTERY, FAN], ["only-one"]), LIMITS, 4000)


def test_the_texts_the_model_sees_are_cleaned_pii_masked_and_cut():
    raw = "<p>Call me at +49 170 1234567 or mail jane.doe@example.com: my <b>battery</b> does not charge</p>"
    plan = plan_request(_request([raw, BATTERY * 100]), LIMITS, 200)
    assert "jane.doe" not in plan.texts[0]
    assert "1234567" not in plan.texts[0]
    assert "[EMAIL]" in plan.texts[0]
    assert "<b>" not in plan.texts[0]
    assert len(plan.texts[1]) <= 200


@pytest.mark.parametrize(
    ("parameters", "outputs", "explain"),
    [
        ({}, None, False),
        ({"explain": True}, None, True),
        ({"explain": "true"}, None, True),
        ({"explain": False}, None, False),
        ({}, ["label", "explanation"], True),
    ],
)
def test_the_explanation_is_asked_for_by_parameter_or_by_naming_the_output(parameters, outputs, explain):
    request = _request([FAN], **parameters)
    if outputs:
        request.request_outputs = [RequestedOutput(name) for name in outputs]
    assert plan_request(request, LIMITS, 4000).explain is explain


def test_bad_requests_are_refused_before_any_case_is_planned():
    with pytest.raises(InvalidInput, match="exceeds the maximum of 256"):
        _plan(["the fan is loud"] * 257)
    with pytest.raises(InvalidInput, match="missing required input"):
        plan_request(InferRequest("case-classifier", [InferInput("case_id", [1], "BYTES", ["C-1"])]), LIMITS, 4000)
    with pytest.raises(InvalidInput, match="UTF-8"):
        _plan([b"\xff\xfe broken"])  # type: ignore[list-item]


def test_a_known_unsupported_language_is_not_classified_an_unknown_one_is():
    plan = _plan([BATTERY, FAN, "Il ventilatore fa molto rumore e il portatile scalda"])
    apply_languages(plan, [0, 1, 2], ["de", "unknown", "it"], RULES)
    assert plan.languages == ["de", "unknown", "it"]
    assert plan.statuses == ["ok", "ok", "unsupported_language"]
    assert plan.classifiable == [0, 1]


def test_the_predictor_request_holds_only_the_given_texts_and_the_explain_flag():
    request = predictor_request(["a b c", "d e f"], "case-classifier", "r-9", explain=True)
    assert request.id == "r-9"
    assert [(i.name, i.datatype, i.shape, i.data) for i in request.inputs] == [
        ("text", "BYTES", [2], ["a b c", "d e f"])
    ]
    assert request.parameters == {"explain": True}
    assert not predictor_request(["a"], "case-classifier", "r", explain=False).parameters


def test_answers_go_back_to_the_classifiable_cases_in_the_original_order():
    plan = _plan(["", BATTERY, AUTO, FAN])
    apply_languages(plan, plan.classifiable, ["en", "en"], RULES)
    # The plan's two texts were the 2nd and 3rd of a batch shared with another request.
    batch = _answers(["other", "battery_power", "thermal_fan", "other"], [0.9, 0.8, 0.7, 0.9])
    apply_predictions(plan, batch, slice(1, 3), RULES)
    assert plan.labels == ["", "battery_power", "", "thermal_fan"]
    assert plan.confidences.tolist() == pytest.approx([0.0, 0.8, 0.0, 0.7])
    assert plan.top_labels[1] == ["battery_power", "display", "storage"]
    assert plan.top_labels[0] == ["", "", ""]
    assert plan.statuses == ["empty", "ok", "auto_reply", "ok"]
    assert plan.model_version == "1.0.0"


def test_an_unsure_answer_keeps_its_label_and_goes_to_a_human():
    plan = _plan([BATTERY, FAN])
    apply_predictions(plan, _answers(["battery_power", "thermal_fan"], [0.49, 0.51]), slice(0, 2), RULES)
    assert plan.statuses == ["low_confidence", "ok"]
    assert plan.labels == ["battery_power", "thermal_fan"]


def _predictor_response(labels: list[str], confidences: list[float], **kwargs: object) -> InferResponse:
    n = len(labels)
    outputs = [
        bytes_output(schema.LABEL, labels),
        fp32_output(schema.CONFIDENCE, np.asarray(confidences)),
        *top_k_outputs(schema.TOP_LABELS, schema.TOP_PROBABILITIES, [[x, "", ""] for x in labels], np.zeros((n, K))),
    ]
    return InferResponse(response_id="r", model_name="case-classifier", infer_outputs=outputs, **kwargs)  # type: ignore[arg-type]


def test_decoded_answers_take_the_version_from_the_parameters_when_the_client_dropped_it():
    response = _predictor_response(["battery_power"], [0.9], parameters={"model_version": "1.2.3"})
    answers = decode_answers(response, 1)
    assert answers.labels == ["battery_power"]
    assert answers.confidences == pytest.approx([0.9])
    assert answers.model_version == "1.2.3"
    assert decode_answers(_predictor_response(["x"], [0.9], model_version="2.0.0"), 1).model_version == "2.0.0"


def test_an_answer_for_another_number_of_cases_is_never_merged():
    with pytest.raises(ValueError, match="predictor answered 1 cases for 2"):
        decode_answers(_predictor_response(["battery_power"], [0.9]), 2)


def test_the_response_has_every_output_in_the_declared_shapes_and_the_request_id():
    plan = _plan([BATTERY, ""], request_id="req-42")
    apply_predictions(plan, _answers(["battery_power"], [0.9]), slice(0, 1), RULES)
    response = response_for(plan, "case-classifier", "0.0.1")
    assert response.id == "req-42"
    assert response.model_version == "1.0.0"  # the answering model's, not the fallback
    shapes = {o.name: (o.datatype, o.shape) for o in response.outputs}
    assert shapes == {
        "label": ("BYTES", [2]),
        "confidence": ("FP32", [2]),
        "status": ("BYTES", [2]),
        "language": ("BYTES", [2]),
        "top_labels": ("BYTES", [2, K]),
        "top_probabilities": ("FP32", [2, K]),
        "case_id": ("BYTES", [2]),
    }
    assert [o.name for o in response.outputs] == [
        name for name in schema.names(schema.TRANSFORMER_OUTPUTS) if name != "explanation"
    ]


def test_a_fully_filtered_plan_answers_under_the_transformers_version():
    plan = _plan(["", AUTO])
    assert plan.classifiable == []
    assert response_for(plan, "case-classifier", "0.0.1").model_version == "0.0.1"


def test_the_explanation_output_only_when_asked_and_empty_for_unclassified_cases():
    plan = _plan([FAN, ""], explain=True)
    apply_predictions(plan, _answers(["thermal_fan"], [0.9]), slice(0, 1), RULES)
    explanation = response_for(plan, "case-classifier", None).get_output_by_name("explanation")
    assert explanation is not None
    assert json.loads(explanation.data[0]) == [["thermal_fan", 1.0]]
    assert json.loads(explanation.data[1]) == []


def test_prediction_events_carry_the_masked_text_and_no_top_labels_for_unclassified_cases():
    raw = "mail jane.doe@example.com: my battery does not charge since monday"
    plan = plan_request(_request([raw, AUTO], ["C-1", ""], request_id="r-7"), LIMITS, 4000)
    apply_predictions(plan, _answers(["battery_power"], [0.8]), slice(0, 1), RULES)
    first, second = prediction_events(plan, None, now=1000.0)
    assert "jane.doe" not in first["text"]
    assert "[EMAIL]" in first["text"]
    assert (first["case_id"], first["label"], first["status"], first["model_version"]) == (
        "C-1",
        "battery_power",
        "ok",
        "1.0.0",
    )
    assert first["top_labels"] == ["battery_power", "display", "storage"]
    assert (second["case_id"], second["status"], second["top_labels"], second["top_probabilities"]) == (
        None,
        "auto_reply",
        [],
        [],
    )
    assert {first["request_id"], second["request_id"]} == {"r-7"}


def test_text_chars_counts_the_text_input_only_and_tolerates_a_malformed_one():
    assert text_chars(_request(["abc", "de"], ["C-123456"])) == 5
    malformed = InferRequest("case-classifier", [InferInput(schema.TEXT, [1], "BYTES", "not a list")])
    assert text_chars(malformed) == 0
