"""The lean infer route (``case_serving.infer_front``) answers as the app's own route does.

Served, a request for the model's infer route never reaches the FastAPI app; these tests send the
same requests to the front and to the app behind it and require the same status, body and media
type, then check what only the front does: the token gate and the body limit in one layer, and
that everything else is the app's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.types import ASGIApp

from case_serving.access import Gate, RateLimiter, parse_rates
from case_serving.infer_front import InferFront
from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER
from case_serving.tokens import Issuer, TokenPolicy, TokenVerifier
from dev.tokens import JWKS, KEYS
from tests.support.auth import token
from tests.support.inprocess import build_app, transformer
from tests.support.v2 import MODEL, infer_body

pytestmark = [
    pytest.mark.anyio,
    # FastAPI 0.165 deprecates ORJSONResponse, which KServe's handlers and ours answer with.
    pytest.mark.filterwarnings("ignore::fastapi.exceptions.FastAPIDeprecationWarning"),
]
INFER = f"/v2/models/{MODEL}/infer"
MAX_BODY_BYTES = 1 << 16
BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
JSON = {"content-type": "application/json"}

#: (name, body, headers): requests the route answers, refuses or cannot read.
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("a case", orjson.dumps(infer_body([BATTERY])), JSON),
    ("not JSON", b"{inputs: nope", JSON),
    ("no inputs", b'{"id": "r-2"}', JSON),
    ("inputs not a list", b'{"inputs": {"name": "text"}}', JSON),
    ("wrong datatype", b'{"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": [1.0]}]}', JSON),
    (
        "shape and data disagree",
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": ["a"]}]}',
        JSON,
    ),
    (
        "unknown output",
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],'
        b' "outputs": [{"name": "nope"}]}',
        JSON,
    ),
    ("wrong media type", b"text=hello", {"content-type": "application/x-www-form-urlencoded"}),
    ("no media type", b"{}", {}),
    ("request id header too long", b"{}", {**JSON, "x-request-id": "r" * 5000}),
    ("binary header not a number", b"{}", {"inference-header-content-length": "many"}),
    ("over the body limit", b"x" * (MAX_BODY_BYTES + 1), JSON),
]


async def _post(app: ASGIApp, body: bytes, headers: dict[str, str], path: str = INFER) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://case-classifier.test") as client:
        return await client.post(path, content=body, headers=headers)


@pytest.fixture
def front() -> InferFront:
    model, _, _, _ = transformer()
    return build_app(model, model.request_limits, MAX_BODY_BYTES)


@pytest.mark.parametrize(("name", "body", "headers"), REQUESTS, ids=[r[0] for r in REQUESTS])
async def test_the_front_answers_as_the_apps_route(front: InferFront, name: str, body: bytes, headers: dict[str, str]):
    lean = await _post(front, body, headers)
    routed = await _post(front.app, body, headers)
    assert lean.status_code == routed.status_code, (lean.text[:200], routed.text[:200])
    assert lean.json() == routed.json()
    assert lean.headers["content-type"].split(";")[0] == routed.headers["content-type"].split(";")[0]
    assert lean.headers["content-type"].startswith("application/json")


async def test_a_chunked_body_over_the_limit_is_a_413_from_the_front(front: InferFront):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * (MAX_BODY_BYTES // 4)

    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://case-classifier.test") as client:
        response = await client.post(INFER, content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert "body" in response.json()["error"]


async def test_a_model_that_is_not_ready_is_a_503(front: InferFront):
    front.model.ready = False
    response = await _post(front, b'{"inputs": []}', JSON)
    assert response.status_code == 503
    assert "error" in response.json()


async def test_other_paths_and_versioned_addresses_are_the_apps(front: InferFront):
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://case-classifier.test") as client:
        assert (await client.get(f"/v2/models/{MODEL}")).json()["name"] == MODEL
        other = await client.post(f"/v2/models/{MODEL}/infer?model_version=0.0.1", json=infer_body([BATTERY]))
        assert other.status_code == 404
        assert "0.0.1" in other.json()["error"]
        assert (await client.get(INFER)).status_code == 405  # the app's answer to a GET
        encoded = await client.post(f"/v2/models/{MODEL}/infer?model%5Fversion=0.0.1", json=infer_body([BATTERY]))
        assert encoded.status_code == 404  # a query goes to the app, which decodes it


async def test_the_front_asks_for_a_token_with_the_role_and_passes_the_right_caller():
    verifier = TokenVerifier([Issuer(DEV_ISSUER, DEV_AUDIENCE, str(KEYS / JWKS))], TokenPolicy())
    model, _, _, _ = transformer()
    inner = build_app(model, model.request_limits, MAX_BODY_BYTES)
    gate = Gate(verifier, RateLimiter(parse_rates(["crm=1"])))
    front = InferFront(inner.app, model, model.request_limits, MAX_BODY_BYTES, (gate, {"crm"}))
    body = orjson.dumps(infer_body([BATTERY]))

    missing = await _post(front, body, JSON)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    forged = await _post(front, body, {**JSON, "authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    assert "invalid_token" in forged.headers["www-authenticate"]
    agent = await _post(front, body, {**JSON, "authorization": f"Bearer {token('agent')}"})
    assert agent.status_code == 403
    crm = {**JSON, "authorization": f"Bearer {token('crm', 'crm-front')}"}
    assert (await _post(front, body, crm)).status_code == 200
    assert (await _post(front, body, crm)).status_code == 200  # a burst of two at one per second
    limited = await _post(front, body, crm)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    # An oversized body from a caller without a token is refused for the token, not read.
    assert (await _post(front, b"x" * (MAX_BODY_BYTES + 1), JSON)).status_code == 401
