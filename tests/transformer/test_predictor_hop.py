"""The transformer's REST hop to the predictor (``transformer.predictor_hop``): what it sends is what
the predictor's route decodes, and each way a call can fail is told apart.

The stack tests send every case through this hop to the real predictor; here a small aiohttp
server on a loopback socket the test holds answers as a failing predictor would.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from case_serving import schema
from case_serving.limits import RequestLimits
from case_serving.rest_infer import decode_request
from case_serving.tensors import named_inputs, wants_explanation
from tests.support.v2 import MODEL
from transformer.cases import predictor_request
from transformer.predictor_hop import PredictorStatusError, RestPredictor, request_body

pytestmark = pytest.mark.anyio
TEXTS = ["the battery does not charge", "écran noir après la mise à jour", ""]


@pytest.mark.parametrize("explain", [False, True])
def test_the_body_sent_is_what_the_predictor_route_decodes(explain: bool):
    request = predictor_request(TEXTS, MODEL, "req-7", explain)
    limits = RequestLimits(schema.names(schema.PREDICTOR_INPUTS), 1024, schema.names(schema.PREDICTOR_OUTPUTS))
    decoded = decode_request(request_body(request), MODEL, limits)
    assert named_inputs(decoded, limits)[schema.TEXT] == TEXTS
    assert decoded.id == "req-7"
    assert wants_explanation(decoded) is explain


@pytest.fixture
async def predictor_double() -> AsyncIterator[tuple[str, list[str]]]:
    """A server answering by the request id: ``fail`` 500, ``garbage`` a 200 that is not V2, any
    other an empty V2 answer; yields its base URL and the request ids it saw."""
    seen: list[str] = []

    async def infer(request: web.Request) -> web.Response:
        rid = request.headers.get("x-request-id", "")
        seen.append(rid)
        if rid == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if rid == "garbage":
            return web.Response(body=b"<html>proxy error</html>", content_type="text/html")
        body = orjson.loads(await request.read())
        return web.json_response({"id": body["id"], "model_name": MODEL, "outputs": []})

    app = web.Application()
    app.router.add_post(f"/v2/models/{MODEL}/infer", infer)
    runner = web.AppRunner(app)
    await runner.setup()
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, held)
    await site.start()
    try:
        yield f"http://127.0.0.1:{held.getsockname()[1]}/v2/models/{MODEL}/infer", seen
    finally:
        await runner.cleanup()


async def test_an_answer_a_status_and_garbage_are_told_apart(predictor_double):
    url, seen = predictor_double
    hop = RestPredictor(url, timeout_seconds=5)
    try:
        answer = await hop.infer(predictor_request(TEXTS, MODEL, "ok", False), "ok")
        assert answer.id == "ok"
        with pytest.raises(PredictorStatusError, match="HTTP 500 from the predictor"):
            await hop.infer(predictor_request(TEXTS, MODEL, "fail", False), "fail")
        with pytest.raises(ValueError, match="not a V2 answer"):
            await hop.infer(predictor_request(TEXTS, MODEL, "garbage", False), "garbage")
        assert seen == ["ok", "fail", "garbage"]  # one call each: only a failed connection is retried
    finally:
        await hop.close()


async def test_a_predictor_that_cannot_be_reached_is_tried_again_then_refused():
    closed = socket.socket()  # bound and held, never listening: every connection is refused
    closed.bind(("127.0.0.1", 0))
    try:
        hop = RestPredictor(f"http://127.0.0.1:{closed.getsockname()[1]}/v2/models/{MODEL}/infer", 5, retries=2)
        with pytest.raises(aiohttp.ClientConnectorError):
            await hop.infer(predictor_request(TEXTS, MODEL, "r", False), "r")
        await hop.close()
    finally:
        closed.close()
