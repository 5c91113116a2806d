"""The transformer's REST hop to the predictor (``transformer.predictor_hop``): what it sends is what
the predictor's route decodes, and each way a call can fail is told apart.

The stack tests send every case through this hop to the real predictor; here a small aiohttp
server on a loopback socket the test holds answers as a failing predictor would.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import orjson
import pytest
from aiohttp import web

from case_serving import schema
from case_serving.limits import RequestLimits
from case_serving.rest_infer import decode_request
from case_serving.tensors import named_inputs, wants_explanation
from dev.processes import refusing_port
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


async def _empty_answer(request: web.Request) -> web.Response:
    """The predictor's V2 answer with no outputs, under the request's id."""
    body = orjson.loads(await request.read())
    return web.json_response({"id": body["id"], "model_name": MODEL, "outputs": []})


@asynccontextmanager
async def _serving(
    infer: Callable[[web.Request], Awaitable[web.Response]], tls: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """``infer`` on the predictor's route, on a loopback socket the test holds; yields its URL."""
    app = web.Application()
    app.router.add_post(f"/v2/models/{MODEL}/infer", infer)
    runner = web.AppRunner(app)
    await runner.setup()
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    await web.SockSite(runner, held, ssl_context=tls).start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{held.getsockname()[1]}/v2/models/{MODEL}/infer"
    finally:
        await runner.cleanup()


@pytest.fixture
async def predictor_double() -> AsyncIterator[tuple[str, list[str]]]:
    """A server answering by the request id: ``fail`` 500, ``garbage`` a 200 that is not V2, any
    other an empty V2 answer; yields its URL and the request ids it saw."""
    seen: list[str] = []

    async def infer(request: web.Request) -> web.Response:
        rid = request.headers.get("x-request-id", "")
        seen.append(rid)
        if rid == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if rid == "garbage":
            return web.Response(body=b"<html>proxy error</html>", content_type="text/html")
        return await _empty_answer(request)

    async with _serving(infer) as url:
        yield url, seen


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
    with refusing_port() as port:  # held, never listening: every connection is refused
        hop = RestPredictor(f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer", 5, retries=2)
        started = time.monotonic()
        with pytest.raises(aiohttp.ClientConnectorError):
            await hop.infer(predictor_request(TEXTS, MODEL, "r", False), "r")
        assert time.monotonic() - started >= 0.3  # paused 0.1 s, then 0.2 s, between the three tries
        await hop.close()


async def test_a_tls_predictor_is_trusted_through_the_ca_bundle_kserve_names(tmp_path, monkeypatch):
    """``--predictor_use_ssl`` with a private CA: KServe's controller names the bundle in
    ``REQUESTS_CA_BUNDLE``; without it the predictor's certificate is refused, with it the call goes
    through."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "predictor.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "ca.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)

    async with _serving(_empty_answer, server_tls) as url:
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        untrusted = RestPredictor(url, timeout_seconds=5)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusted.infer(predictor_request(TEXTS, MODEL, "tls", False), "tls")
        await untrusted.close()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
        trusted = RestPredictor(url, timeout_seconds=5)
        assert (await trusted.infer(predictor_request(TEXTS, MODEL, "tls", False), "tls")).id == "tls"
        await trusted.close()
