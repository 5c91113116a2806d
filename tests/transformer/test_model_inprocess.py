"""The transformer's KServe ``Model`` in-process: the whole preprocess -> predict -> postprocess
lifecycle, with its two remote services replaced by test doubles (``tests/support/inprocess.py``:
a scripted predictor standing where KServe's predictor call stands, and a scripted language
client), so each test sees exactly what the transformer sent where and what it answered.

The stack tests (``test_contract.py``, ``test_version_pinning.py``) check the same rules through
real processes; these are their fast counterparts.
"""

from __future__ import annotations

import asyncio
import json

import grpc
import httpx
import pytest
from kserve.errors import InvalidInput, ServerNotReady
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse
from prometheus_client import REGISTRY

from case_serving import warmup
from tests.support.inprocess import VERSION, transformer
from transformer.model import PredictorUnavailable, VersionMismatch

pytestmark = pytest.mark.anyio

BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
FAN = "The fan of my laptop is extremely loud and it overheats when idle."
GERMAN = "Mein Laptop startet nicht mehr nach dem BIOS Update und bleibt beim Logo hängen."
ITALIAN = "La batteria del mio portatile non si carica più e si scarica subito, aiuto."
AUTO = "Automatic reply: I am out of the office until Monday."
LANGUAGES = {"Mein Laptop": "de", "La batteria": "it"}


def _request(texts: list[str], case_ids: list[str] | None = None, request_id: str = "req-1", **parameters: object):
    inputs = [InferInput("text", [len(texts)], "BYTES", texts)]
    if case_ids is not None:
        inputs.append(InferInput("case_id", [len(case_ids)], "BYTES", case_ids))
    return InferRequest("case-classifier", inputs, request_id=request_id, parameters=parameters or None)


async def _infer(model, request: InferRequest, headers: dict[str, str] | None = None) -> dict[str, list]:
    response, _ = await model(request, headers=headers or {})
    assert isinstance(response, InferResponse)
    return {output.name: list(output.data) for output in response.outputs}


def _calls(outcome: str) -> float:
    return REGISTRY.get_sample_value("case_classifier_predictor_calls_total", {"outcome": outcome}) or 0.0


async def test_mixed_batch_keeps_order_and_answers_filtered_cases_itself():
    model, predictor, languages, _ = transformer(LANGUAGES)
    texts = ["", BATTERY, AUTO, GERMAN, ITALIAN, "help", FAN]
    ids = [f"C-{i}" for i in range(len(texts))]
    out = await _infer(model, _request(texts, ids))
    assert out["case_id"] == ids
    assert out["status"] == ["empty", "ok", "auto_reply", "ok", "unsupported_language", "too_short", "ok"]
    assert out["language"] == ["unknown", "en", "unknown", "de", "it", "unknown", "en"]
    assert out["label"] == ["", "battery_power", "", "boot_bios", "", "", "thermal_fan"]
    for i in (0, 2, 4, 5):
        assert out["confidence"][i] == 0.0
        assert out["top_labels"][3 * i : 3 * i + 3] == ["", "", ""]
    # Only cases that passed the filter were detected; only supported ones were classified.
    assert languages.calls == [[BATTERY, GERMAN, ITALIAN, FAN]]
    assert predictor.requests == [([BATTERY, GERMAN, FAN], False)]


async def test_a_fully_filtered_request_never_reaches_the_predictor():
    model, predictor, _, _ = transformer(LANGUAGES)
    skipped = _calls("skipped")
    out = await _infer(model, _request(["", AUTO, "   ", ITALIAN]))
    assert out["status"] == ["empty", "auto_reply", "empty", "unsupported_language"]
    assert predictor.requests == []
    assert _calls("skipped") == skipped + 1


async def test_the_predictor_sees_the_cleaned_masked_text_never_the_raw_one():
    model, predictor, _, log = transformer()
    raw = "<p>Call me at +49 170 1234567 or mail jane.doe@example.com, my <b>battery</b> does not charge</p>"
    out = await _infer(model, _request([raw], ["C-9"]))
    assert out["label"] == ["battery_power"]
    (sent,), _ = predictor.requests[0]
    assert "jane.doe" not in sent
    assert "1234567" not in sent
    assert "<b>" not in sent
    assert [event["text"] for event in log.events] == [sent]


async def test_an_unsure_answer_keeps_its_label_and_is_flagged_for_a_human():
    model, _, _, _ = transformer(confidence_threshold=0.5)
    out = await _infer(model, _request([BATTERY, "The screen flickers, maybe the cable is loose"]))
    assert out["status"] == ["ok", "low_confidence"]
    assert out["label"] == ["battery_power", "display"]
    assert out["confidence"][1] == pytest.approx(0.2)


async def test_the_explanation_is_asked_of_the_predictor_only_when_the_caller_asks():
    model, predictor, _, _ = transformer()
    plain = await _infer(model, _request([FAN]))
    assert "explanation" not in plain
    out = await _infer(model, _request([FAN, ""], explain=True))
    assert predictor.requests[-1] == ([FAN], True)
    assert json.loads(out["explanation"][0]) == [["The", 1.0]]
    assert json.loads(out["explanation"][1]) == []


async def test_the_answer_carries_the_request_id_and_the_models_version():
    model, _, _, _ = transformer()
    response, _ = await model(_request([BATTERY], request_id="req-42"), headers={})
    assert (response.id, response.model_version) == ("req-42", VERSION)
    # Without an id in the body, the caller's x-request-id names the answer.
    response, _ = await model(_request([BATTERY], request_id=""), headers={"x-request-id": "trace-7"})
    assert response.id == "trace-7"


async def test_a_bad_request_is_refused_before_anything_is_called():
    model, predictor, languages, _ = transformer()
    with pytest.raises(InvalidInput, match="case_id"):
        await model(_request([BATTERY, FAN], ["only-one"]), headers={})
    with pytest.raises(InvalidInput, match="exceeds the maximum of 4"):
        await transformer(max_batch_cases=4)[0](_request([FAN] * 5), headers={})
    assert predictor.requests == []
    assert languages.calls == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        OSError("network unreachable"),
        httpx.HTTPStatusError(
            "500", request=httpx.Request("POST", "http://p"), response=httpx.Response(500, request=None)
        ),
    ],
    ids=["refused", "timeout", "os-error", "http-500"],
)
async def test_an_unreachable_or_failing_predictor_is_a_503_naming_it(failure):
    model, predictor, _, _ = transformer()
    predictor.failure = failure
    with pytest.raises(PredictorUnavailable, match="predictor unavailable") as refused:
        await model(_request([BATTERY]), headers={})
    assert isinstance(refused.value, ServerNotReady)  # KServe answers it 503 / UNAVAILABLE
    # Cases that need no classifier are still answered while the predictor is away.
    out = await _infer(model, _request([AUTO]))
    assert out["status"] == ["auto_reply"]


async def test_a_grpc_failure_of_the_hop_names_its_status():
    model, predictor, _, _ = transformer()
    predictor.failure = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="no route"
    )
    with pytest.raises(PredictorUnavailable, match="gRPC UNAVAILABLE: no route"):
        await model(_request([BATTERY]), headers={})


async def test_an_answer_for_fewer_cases_than_sent_is_never_merged():
    model, predictor, _, _ = transformer()
    predictor.short_by = 1
    errors = _calls("error")
    with pytest.raises(PredictorUnavailable, match="predictor answered 1 cases for 2"):
        await model(_request([BATTERY, FAN]), headers={})
    assert _calls("error") == errors + 1


async def test_an_answer_from_another_model_version_is_refused_never_served():
    model, _, _, log = transformer(steps_version="1.0.0", predictor_version="2.0.0")
    mismatches = _calls("version_mismatch")
    with pytest.raises(VersionMismatch) as refused:
        await model(_request([BATTERY, AUTO]), headers={})
    assert "the predictor serves model version 2.0.0, these text steps are version 1.0.0" in str(refused.value)
    assert _calls("version_mismatch") == mismatches + 1
    assert log.events == []
    response, _ = await model(_request([AUTO, ""]), headers={})
    assert response.model_version == "1.0.0"
    assert response.get_output_by_name("status").data == ["auto_reply", "empty"]


async def test_from_a_source_tree_the_transformer_reports_the_predictors_version():
    model, _, _, _ = transformer(steps_version=None, predictor_version="3.1.4")
    assert model.version is None
    response, _ = await model(_request([BATTERY]), headers={})
    assert response.model_version == "3.1.4"
    assert model.version == "3.1.4"  # and from then on, for fully filtered requests too


async def test_concurrent_requests_each_get_their_own_answers():
    model, predictor, _, _ = transformer()
    batches = [[BATTERY, AUTO], [FAN], ["", GERMAN, BATTERY]]
    results = await asyncio.gather(
        *(_infer(model, _request(texts, request_id=f"r{i}")) for i, texts in enumerate(batches))
    )
    assert [r["label"] for r in results] == [["battery_power", ""], ["thermal_fan"], ["", "boot_bios", "battery_power"]]
    assert sum(len(texts) for texts, _ in predictor.requests) == 4  # every classifiable case once


async def test_answered_cases_are_logged_but_the_services_own_warm_up_is_not():
    model, _, _, log = transformer()
    await _infer(model, _request([BATTERY, AUTO], ["C-1", "C-2"], request_id="crm-1"))
    await _infer(model, _request([FAN], request_id=warmup.REQUEST_ID))
    assert [(e["case_id"], e["status"], e["label"], e["request_id"]) for e in log.events] == [
        ("C-1", "ok", "battery_power", "crm-1"),
        ("C-2", "auto_reply", "", "crm-1"),
    ]


async def test_metadata_declares_the_crm_contract():
    model, _, _, _ = transformer()
    assert [(t["name"], t["datatype"]) for t in model.get_input_types()] == [("text", "BYTES"), ("case_id", "BYTES")]
    assert {t["name"] for t in model.get_output_types()} == {
        "label",
        "confidence",
        "status",
        "language",
        "top_labels",
        "top_probabilities",
        "case_id",
        "explanation",
    }
