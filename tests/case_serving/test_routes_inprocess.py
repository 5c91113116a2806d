"""The V2 REST routes of both services in-process: the app ``case_serving.serve`` builds, called
through httpx's ASGI transport (no socket, no process).

The transformer runs with its remote services replaced by test doubles; the predictor serves a
small model trained in ``tmp_path``. The stack tests (``test_bad_input.py``,
``test_routes_not_served.py``, ``test_request_shape_limits.py``, ``test_contract.py``) check the
same routes over real HTTP; these are their fast counterparts, one per behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from kserve import Model

from case_serving.identifiers import MAX_CASE_ID_CHARS
from case_serving.limits import RequestLimits
from predictor.model import CaseClassifierModel
from predictor.settings import PredictorSettings
from tests.support.inprocess import VERSION, ScriptedPredictor, build_app, small_artifact, transformer
from tests.support.v2 import MODEL, infer_body
from tests.transformer.test_bad_input import CASES

pytestmark = [
    pytest.mark.anyio,
    # FastAPI 0.165 deprecates ORJSONResponse, which KServe's handlers and ours answer with.
    pytest.mark.filterwarnings("ignore::fastapi.exceptions.FastAPIDeprecationWarning"),
]
SERVICES = ["transformer", "predictor"]
#: The services' body limit here: small, so a refused body costs the test little.
MAX_BODY_BYTES = 1 << 20
BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
FAN = "The fan of my laptop is extremely loud and it overheats when idle."
AUTO = "Automatic reply: I am out of the office until Monday."
INFER = f"/v2/models/{MODEL}/infer"
JSON = {"content-type": "application/json"}


@dataclass
class Service:
    """One service's model, its double of the predictor (transformer only) and readiness switch."""

    name: str
    model: Model
    limits: RequestLimits
    predictor: ScriptedPredictor | None = None
    ready: bool = True


@pytest.fixture(scope="module")
def predictor_model(tmp_path_factory: pytest.TempPathFactory) -> CaseClassifierModel:
    settings = PredictorSettings(model_dir=str(small_artifact(tmp_path_factory)))
    model = CaseClassifierModel(MODEL, settings)
    model.load()
    return model


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> Service:
    if request.param == "transformer":
        model, predictor, _, _ = transformer({"Mein Laptop": "de"})
        return Service("transformer", model, model.request_limits, predictor)
    model = request.getfixturevalue("predictor_model")
    return Service("predictor", model, model.request_limits)


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(service.model, service.limits, MAX_BODY_BYTES, ready=lambda: service.ready)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://case-classifier.test") as client:
        yield client


def _outputs(response: httpx.Response) -> dict[str, list]:
    assert response.status_code == 200, response.text
    return {output["name"]: output["data"] for output in response.json()["outputs"]}


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert isinstance(message, str)
    return message


async def _still_serving(client: httpx.AsyncClient) -> None:
    assert _outputs(await client.post(INFER, json=infer_body([FAN])))["label"] == ["thermal_fan"]


async def test_a_case_gets_its_category_with_id_and_version(client, service):
    response = await client.post(INFER, json=infer_body([BATTERY, FAN], request_id="req-42"))
    out = _outputs(response)
    assert out["label"] == ["battery_power", "thermal_fan"]
    assert len(out["top_labels"]) == 2 * 3
    body = response.json()
    assert (body["id"], body["model_name"], body["model_version"]) == ("req-42", MODEL, VERSION)
    if service.name == "transformer":
        assert out["status"] == ["ok", "ok"]
        assert out["language"] == ["en", "en"]


@pytest.mark.parametrize("service", ["transformer"], indirect=True)
async def test_the_transformer_answers_filtered_cases_and_keeps_case_ids(client):
    out = _outputs(await client.post(INFER, json=infer_body(["", BATTERY, AUTO], ["C-1", "C-2", "C-3"])))
    assert out["status"] == ["empty", "ok", "auto_reply"]
    assert out["label"] == ["", "battery_power", ""]
    assert out["case_id"] == ["C-1", "C-2", "C-3"]


@pytest.mark.parametrize(("name", "body", "fragment"), CASES, ids=[case[0] for case in CASES])
async def test_a_bad_request_is_a_400_naming_the_problem(client, name, body, fragment):
    assert fragment in _error(await client.post(INFER, content=body, headers=JSON), 400)
    await _still_serving(client)


async def test_a_wrong_content_type_is_a_415_naming_it(client):
    body = orjson.dumps(infer_body([FAN]))
    assert "text/plain" in _error(await client.post(INFER, content=body, headers={"content-type": "text/plain"}), 415)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_a_413(client, chunked):
    body = orjson.dumps(infer_body(["x" * (MAX_BODY_BYTES + 1000)]))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]

    response = await client.post(INFER, content=chunks() if chunked else body, headers=JSON)
    assert f"exceeds the limit of {MAX_BODY_BYTES} bytes" in _error(response, 413)
    await _still_serving(client)


async def test_requested_outputs_only_are_returned_and_unknown_ones_refused(client):
    body: dict[str, Any] = {**infer_body([BATTERY]), "outputs": [{"name": "confidence"}, {"name": "label"}]}
    response = await client.post(INFER, json=body)
    assert [output["name"] for output in response.json()["outputs"]] == ["label", "confidence"]
    refused = await client.post(INFER, json={**infer_body([BATTERY]), "outputs": [{"name": "colour"}]})
    assert "unknown output(s) 'colour'" in _error(refused, 400)


async def test_the_explanation_is_returned_when_asked(client):
    plain = _outputs(await client.post(INFER, json=infer_body([FAN])))
    assert "explanation" not in plain
    asked = _outputs(await client.post(INFER, json=infer_body([FAN], explain=True)))
    assert len(asked["explanation"]) == 1
    assert asked["explanation"][0].startswith("[[")


async def test_binary_tensor_input_is_read(client):
    texts = [BATTERY.encode(), FAN.encode()]
    raw = b"".join(len(text).to_bytes(4, "little") + text for text in texts)
    header = orjson.dumps(
        {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(raw)}}]}
    )
    response = await client.post(
        INFER,
        content=header + raw,
        headers={"content-type": "application/octet-stream", "inference-header-content-length": str(len(header))},
    )
    assert _outputs(response)["label"] == ["battery_power", "thermal_fan"]


async def test_requests_refused_by_their_shape_name_the_limit_briefly(client, service):
    limit = service.limits.max_cases
    cases = {
        "150000 inputs": {"inputs": [{}] * 150_000},
        f"exceeds the maximum of {limit}": {
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [10**7], "data": ["a"]}]
        },
        "characters; at most": {"id": "r" * 100_000, "inputs": infer_body([FAN])["inputs"]},
        "unknown input": {"inputs": [{"name": "x" * 100_000, "datatype": "BYTES", "shape": [1], "data": ["a"]}]},
    }
    for fragment, body in cases.items():
        message = _error(await client.post(INFER, content=orjson.dumps(body), headers=JSON), 400)
        assert fragment in message
        assert len(message) <= 400
    long_header = await client.post(INFER, json=infer_body([FAN]), headers={"x-request-id": "h" * 5000})
    assert "x-request-id" in _error(long_header, 400)
    if service.name == "transformer":
        body = infer_body([FAN, FAN], case_ids=["C-1", "c" * (MAX_CASE_ID_CHARS + 1)])
        assert "case_id" in _error(await client.post(INFER, json=body), 400)


async def test_an_unknown_model_is_a_404_naming_it(client):
    assert "nope" in _error(await client.post("/v2/models/nope/infer", json=infer_body([FAN])), 404)


@pytest.mark.parametrize("verb", ["predict", "explain"])
async def test_the_v1_protocol_is_a_404_naming_the_v2_route(client, verb):
    response = await client.post(f"/v1/models/{MODEL}:{verb}", json={"instances": ["hello"]})
    assert f"use POST /v2/models/{MODEL}/infer" in _error(response, 404)


@pytest.mark.parametrize("action", ["unload", "load"])
async def test_the_repository_api_is_refused_and_the_model_stays(client, action):
    response = await client.post(f"/v2/repository/models/{MODEL}/{action}")
    assert "repository API is disabled" in _error(response, 403)
    assert (await client.get(f"/v2/models/{MODEL}/ready")).status_code == 200
    await _still_serving(client)


async def test_the_served_version_answers_on_its_versioned_routes(client):
    for path in (f"/v2/models/{MODEL}/versions/{VERSION}/ready", f"/v2/models/{MODEL}?model_version={VERSION}"):
        assert (await client.get(path)).status_code == 200, path
    response = await client.post(f"/v2/models/{MODEL}/versions/{VERSION}/infer", json=infer_body([FAN]))
    assert _outputs(response)["label"] == ["thermal_fan"]


@pytest.mark.parametrize(
    "path",
    [
        f"/v2/models/{MODEL}/versions/0.9.0/ready",
        f"/v2/models/{MODEL}/versions/0.9.0/infer",
        f"/v2/models/{MODEL}?model_version=1",
    ],
)
async def test_another_version_is_a_404_naming_the_served_one(client, path):
    response = await client.post(path, json=infer_body([FAN])) if path.endswith("/infer") else await client.get(path)
    assert f"the served version is {VERSION}" in _error(response, 404)


async def test_metadata_and_health(client, service):
    assert (await client.get("/v2/health/live")).status_code == 200
    assert (await client.get("/v2/health/ready")).status_code == 200
    assert (await client.get(f"/v2/models/{MODEL}/ready")).json()["ready"] is True
    meta = (await client.get(f"/v2/models/{MODEL}")).json()
    assert meta["name"] == MODEL
    expected = ["text", "case_id"] if service.name == "transformer" else ["text"]
    assert [t["name"] for t in meta["inputs"]] == expected
    assert "label" in {t["name"] for t in meta["outputs"]}


async def test_while_not_ready_readiness_is_503_and_requests_are_still_served(client, service):
    service.ready = False  # warming up, or draining after SIGTERM
    assert "not ready" in _error(await client.get("/v2/health/ready"), 503)
    assert (await client.get(f"/v2/models/{MODEL}/ready")).status_code == 503
    assert (await client.get("/v2/health/live")).status_code == 200
    await _still_serving(client)


async def test_an_unknown_path_and_an_unparseable_body_get_v2_errors(client):
    assert "Not Found" in _error(await client.get("/no/such/path"), 404)
    response = await client.post("/v2/models/other/infer", content=b"\xff\xfe[\x80", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize("service", ["transformer"], indirect=True)
async def test_an_unavailable_predictor_is_a_503_and_filtered_cases_are_still_answered(client, service):
    assert service.predictor is not None
    service.predictor.failure = httpx.ConnectError("connection refused")
    assert "predictor unavailable" in _error(await client.post(INFER, json=infer_body([BATTERY])), 503)
    assert _outputs(await client.post(INFER, json=infer_body([AUTO])))["status"] == ["auto_reply"]


@pytest.mark.parametrize("service", ["transformer"], indirect=True)
async def test_an_answer_across_model_versions_is_a_503_naming_both(client, service):
    assert service.predictor is not None
    service.predictor.version = "2.0.0"
    message = _error(await client.post(INFER, json=infer_body([BATTERY])), 503)
    assert "the predictor serves model version 2.0.0, these text steps are version 1.0.0" in message
