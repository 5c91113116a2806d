"""The CRM's contract on the transformer, through real processes, over REST and gRPC."""

from __future__ import annotations

import httpx
import pytest

from tests.support.auth import bearer, token
from tests.support.v2 import MODEL, infer, infer_body, metric, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
FAN = "The fan of my laptop is extremely loud and it overheats when idle."
GERMAN = "Mein Laptop startet nicht mehr nach dem BIOS Update und bleibt beim Logo hängen."
ITALIAN = "La batteria del mio portatile non si carica più e si scarica subito, aiuto."
AUTO = "Automatic reply: I am out of the office until Monday."


def test_single_case(stack):
    out = outputs(infer(stack.transformer_url, infer_body([BATTERY], ["C-1"], request_id="abc")))
    assert out["label"] == ["battery_power"]
    assert out["status"] == ["ok"]
    assert out["language"] == ["en"]
    assert 0.5 < out["confidence"][0] <= 1.0
    assert out["top_labels"][0] == "battery_power"
    assert len(out["top_labels"]) == 3
    assert out["top_probabilities"][0] == pytest.approx(out["confidence"][0])
    assert out["case_id"] == ["C-1"]


def test_response_carries_id_version_and_declared_shapes(stack):
    response = infer(stack.transformer_url, infer_body([BATTERY, FAN], request_id="req-42"))
    body = response.json()
    assert body["id"] == "req-42"
    assert body["model_version"] == "1.0.0"
    shapes = {o["name"]: (o["datatype"], o["shape"]) for o in body["outputs"]}
    assert shapes == {
        "label": ("BYTES", [2]),
        "confidence": ("FP32", [2]),
        "status": ("BYTES", [2]),
        "language": ("BYTES", [2]),
        "top_labels": ("BYTES", [2, 3]),
        "top_probabilities": ("FP32", [2, 3]),
        "case_id": ("BYTES", [2]),
    }


def test_mixed_batch_keeps_order_and_answers_filtered_cases_itself(stack):
    texts = ["", BATTERY, AUTO, GERMAN, ITALIAN, "help", FAN]
    ids = [f"C-{i}" for i in range(len(texts))]
    out = outputs(infer(stack.transformer_url, infer_body(texts, ids)))
    assert out["case_id"] == ids
    assert out["status"] == ["empty", "ok", "auto_reply", "ok", "unsupported_language", "too_short", "ok"]
    assert out["language"] == ["unknown", "en", "unknown", "de", "it", "unknown", "en"]
    assert out["label"][1] == "battery_power"
    assert out["label"][3] == "boot_bios"
    assert out["label"][6] == "thermal_fan"
    for i in (0, 2, 4, 5):
        assert out["label"][i] == ""
        assert out["confidence"][i] == 0.0
        assert out["top_labels"][3 * i : 3 * i + 3] == ["", "", ""]


def test_fully_filtered_request_never_reaches_the_predictor(stack):
    before = metric(stack.predictor_url, "request_predict_seconds_count")
    out = outputs(infer(stack.transformer_url, infer_body(["", AUTO, "   ", ITALIAN])))
    assert out["status"] == ["empty", "auto_reply", "empty", "unsupported_language"]
    assert metric(stack.predictor_url, "request_predict_seconds_count") == before
    infer(stack.transformer_url, infer_body([BATTERY]))
    assert metric(stack.predictor_url, "request_predict_seconds_count") == before + 1


def test_explain_returns_terms_of_the_case(stack):
    out = outputs(infer(stack.transformer_url, infer_body([FAN, ""], explain=True)))
    import json

    terms = json.loads(out["explanation"][0])
    assert terms
    assert all(weight > 0 for _, weight in terms)
    assert any(term in FAN.lower() for term, _ in terms)
    assert json.loads(out["explanation"][1]) == []


def test_metadata_and_health_endpoints(stack):
    base = stack.transformer_url
    assert httpx.get(f"{base}/v2/health/live").status_code == 200
    assert httpx.get(f"{base}/v2/health/ready").status_code == 200
    assert httpx.get(f"{base}/v2/models/{MODEL}/ready").json()["ready"] is True
    assert "name" in httpx.get(f"{base}/v2").json()
    meta = httpx.get(f"{base}/v2/models/{MODEL}").json()
    assert meta["name"] == MODEL
    assert {(t["name"], t["datatype"], tuple(t["shape"])) for t in meta["inputs"]} == {
        ("text", "BYTES", (-1,)),
        ("case_id", "BYTES", (-1,)),
    }
    assert {t["name"] for t in meta["outputs"]} == {
        "label",
        "confidence",
        "status",
        "language",
        "top_labels",
        "top_probabilities",
        "case_id",
        "explanation",
    }


def test_unknown_model_is_404(stack, reliability):
    response = httpx.post(f"{stack.transformer_url}/v2/models/nope/infer", json=infer_body([BATTERY]), headers=bearer())
    assert response.status_code == 404
    assert "nope" in response.json()["error"]
    reliability.record("Bad input, REST", "unknown model", 1, "404 naming it")


def test_metrics_count_cases_by_status_and_language(stack):
    before = metric(stack.transformer_url, "case_classifier_cases_total", {"status": "auto_reply"})
    infer(stack.transformer_url, infer_body([AUTO, AUTO]))
    assert metric(stack.transformer_url, "case_classifier_cases_total", {"status": "auto_reply"}) == before + 2
    assert metric(stack.transformer_url, "case_classifier_predicted_labels_total", {"model_version": "1.0.0"}) > 0


@pytest.mark.anyio
async def test_kserve_rest_client(stack):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=10))
    try:
        request = InferRequest(MODEL, [InferInput("text", [2], "BYTES", [BATTERY, AUTO])], request_id="rest-1")
        response = await client.infer(stack.transformer_url, request, model_name=MODEL, headers=bearer())
    finally:
        await client.close()
    assert response.get_output_by_name("label").data == ["battery_power", ""]
    assert response.get_output_by_name("status").data == ["ok", "auto_reply"]


@pytest.mark.anyio
async def test_kserve_grpc_client(stack):
    from kserve import InferenceGRPCClient, InferInput, InferRequest

    client = InferenceGRPCClient(f"127.0.0.1:{stack.stack.ports.grpc}", timeout=10)
    try:
        request = InferRequest(MODEL, [InferInput("text", [3], "BYTES", [BATTERY, AUTO, GERMAN])], request_id="grpc-1")
        response = await client.infer(request, headers=[("authorization", f"Bearer {token('crm')}")])
    finally:
        await client.close()
    labels = [v.decode() if isinstance(v, bytes) else v for v in response.get_output_by_name("label").as_numpy()]
    statuses = [v.decode() if isinstance(v, bytes) else v for v in response.get_output_by_name("status").as_numpy()]
    assert labels == ["battery_power", "", "boot_bios"]
    assert statuses == ["ok", "auto_reply", "ok"]
    assert response.id == "grpc-1"
