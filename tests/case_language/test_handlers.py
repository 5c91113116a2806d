"""The language service's tornado handlers in-process: the app ``make_app`` builds, served by
tornado's ``HTTPServer`` in the test's own event loop on a loopback socket the test binds itself.

``test_service.py`` checks the same contract on the running service process of the stack; these
are its fast counterparts, with small limits so that refusing an oversized call costs little.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import tornado.httpserver
import tornado.testing
from prometheus_client.parser import text_string_to_metric_families

from case_language.breaker import CircuitBreaker
from case_language.client import ExternalDetection, LanguageServiceClient, LruCache, NoDetection
from case_language.service.app import ServiceState, make_app
from case_language.service.settings import LanguageServiceSettings
from case_model import LocalDetector

pytestmark = pytest.mark.anyio
MAX_TEXTS = 16
MAX_BODY_BYTES = 4096
TEXTS = [
    "My laptop does not start after the BIOS update.",
    "Mein Laptop startet nicht mehr nach dem Update.",
    "Mon ordinateur ne démarre plus après la mise à jour.",
    "Mi portátil no arranca después de actualizar la BIOS.",
]


@dataclass
class Running:
    url: str
    state: ServiceState


SETTINGS = LanguageServiceSettings(max_texts=MAX_TEXTS, max_body_bytes=MAX_BODY_BYTES)


@pytest.fixture(scope="module")
def detector() -> LocalDetector:
    """The service's detector (about two seconds to build: shared by the module's tests)."""
    return LocalDetector(SETTINGS.languages, SETTINGS.min_confidence, SETTINGS.max_text_chars)


@pytest.fixture
async def service(detector: LocalDetector) -> AsyncIterator[Running]:
    """The service's app as ``case_language.service.server.serve`` serves it, ready; its own
    state (and metrics) per test."""
    settings = SETTINGS
    state = ServiceState(settings, detector)
    server = tornado.httpserver.HTTPServer(make_app(state), max_body_size=settings.max_body_bytes * 2)
    sock, port = tornado.testing.bind_unused_port()  # 127.0.0.1, port 0: the socket stays ours
    server.add_sockets([sock])
    state.ready = True
    try:
        yield Running(f"http://127.0.0.1:{port}", state)
    finally:
        server.stop()
        await server.close_all_connections()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def _requests(state: ServiceState, status: str) -> float:
    for family in text_string_to_metric_families(_metrics(state)):
        for sample in family.samples:
            if sample.name == "case_classifier_language_service_requests_total" and sample.labels == {"status": status}:
                return sample.value
    return 0.0


def _metrics(state: ServiceState) -> str:
    from prometheus_client import generate_latest

    return generate_latest(state.registry).decode()


async def test_a_batch_of_texts_is_answered_in_order(service, client):
    response = await client.post(f"{service.url}/v1/detect", json={"texts": TEXTS})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert [a["language"] for a in answer] == ["en", "de", "fr", "es"]
    assert all(0.5 <= a["confidence"] <= 1 for a in answer)
    assert _requests(service.state, "200") == 1


@pytest.mark.parametrize(
    "text", ["0x0000007B 2000-0142", "[EMAIL] [SERIAL] [PHONE]", "https://dell.com/support/x1", "", "7XK2M3Q PXE-E61"]
)
async def test_a_text_without_real_words_is_unknown(service, client, text):
    response = await client.post(f"{service.url}/v1/detect", json={"texts": [text]})
    assert response.json() == [{"language": "unknown", "confidence": 0.0}]


async def test_an_empty_batch_is_an_empty_answer(service, client):
    assert (await client.post(f"{service.url}/v1/detect", json={"texts": []})).json() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"texts": "abc"}', "body must be a JSON object"),
        (b'{"texts": [1, 2]}', "must be a string"),
        (b"[]", "body must be a JSON object"),
        (b"", "not valid JSON"),
    ],
)
async def test_a_bad_request_is_a_400_json_error_naming_it(service, client, body, fragment):
    response = await client.post(f"{service.url}/v1/detect", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert _requests(service.state, "400") == 1


async def test_too_many_texts_is_a_413_and_the_service_keeps_serving(service, client):
    response = await client.post(f"{service.url}/v1/detect", json={"texts": ["a"] * (MAX_TEXTS + 1)})
    assert response.status_code == 413
    assert f"too many texts: {MAX_TEXTS + 1} > {MAX_TEXTS}" in response.json()["error"]
    assert (await client.post(f"{service.url}/v1/detect", json={"texts": TEXTS[:1]})).json()[0]["language"] == "en"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_a_413(service, client, chunked):
    body = b'{"texts": ["' + b"a" * (MAX_BODY_BYTES + 100) + b'"]}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    response = await client.post(f"{service.url}/v1/detect", content=chunks() if chunked else body)
    assert response.status_code == 413
    assert "exceeds" in response.json()["error"]
    assert (await client.post(f"{service.url}/v1/detect", json={"texts": TEXTS[:1]})).status_code == 200


async def test_liveness_readiness_and_metrics(service, client):
    assert (await client.get(f"{service.url}/healthz")).json() == {"live": True}
    assert (await client.get(f"{service.url}/readyz")).status_code == 200
    service.state.ready = False  # from the moment a shutdown begins
    not_ready = await client.get(f"{service.url}/readyz")
    assert (not_ready.status_code, not_ready.json()) == (503, {"ready": False})
    await client.post(f"{service.url}/v1/detect", json={"texts": TEXTS[:2]})
    metrics = await client.get(f"{service.url}/metrics")
    assert metrics.status_code == 200
    assert 'case_classifier_language_service_texts_total{language="de"} 1.0' in metrics.text
    assert service.state.in_flight == 0


async def test_the_services_metrics_are_apart_from_the_transformers_client_metrics(service):
    """The service counts its side of the calls under ``case_classifier_language_service_*``; the
    transformer counts its side under ``case_classifier_language_*``: no name is both."""
    from prometheus_client import REGISTRY

    import case_language.client_metrics  # noqa: F401  (registers the client's metrics)

    ours = {family.name for family in service.state.registry.collect()}
    assert ours == {
        "case_classifier_language_service_requests",
        "case_classifier_language_service_texts",
        "case_classifier_language_service_request_seconds",
    }
    clients = {family.name for family in REGISTRY.collect() if family.name.startswith("case_classifier_language_")}
    assert clients
    assert not ours & clients


async def test_an_unknown_route_is_a_json_404(service, client):
    response = await client.get(f"{service.url}/v1/nothing")
    assert response.status_code == 404
    assert response.json() == {"error": "no route GET /v1/nothing"}


async def test_the_transformers_client_reads_the_services_answers(service):
    """The client and the service agree on the contract: with a fallback that answers ``unknown``
    for everything, the languages can only have come from the service."""
    http = LanguageServiceClient(timeout=10.0)
    detection = ExternalDetection(
        f"{service.url}/v1/detect",
        http,
        NoDetection(),
        timeout=10.0,
        retries=0,
        backoff=0.01,
        breaker=CircuitBreaker(5, 5.0),
        cache=LruCache(0),
    )
    try:
        assert await detection.detect(TEXTS) == ["en", "de", "fr", "es"]
    finally:
        await http.close()
    assert _requests(service.state, "200") == 1
