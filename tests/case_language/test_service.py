"""The reference language service over real HTTP: contract, unknown for codes, errors, shutdown."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


def _detect(base: str, payload, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/v1/detect", json=payload, timeout=10, **kwargs)


def test_batch_of_texts_in_order(stack):
    texts = [
        "My laptop does not start after the BIOS update.",
        "Mein Laptop startet nicht mehr nach dem Update.",
        "Mon ordinateur ne démarre plus après la mise à jour.",
        "Mi portátil no arranca después de actualizar la BIOS.",
    ]
    answer = _detect(stack.language_url, {"texts": texts}).json()
    assert [a["language"] for a in answer] == ["en", "de", "fr", "es"]
    assert all(0.5 <= a["confidence"] <= 1 for a in answer)


@pytest.mark.parametrize(
    "text", ["0x0000007B 2000-0142", "[EMAIL] [SERIAL] [PHONE]", "https://dell.com/support/x1", "", "7XK2M3Q PXE-E61"]
)
def test_no_real_words_is_unknown(stack, text):
    assert _detect(stack.language_url, {"texts": [text]}).json() == [{"language": "unknown", "confidence": 0.0}]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"texts": "abc"}', "body must be a JSON object"),
        (b'{"texts": [1, 2]}', "must be a string"),
        (b"[]", "body must be a JSON object"),
    ],
)
def test_bad_requests_get_a_json_error(stack, body, fragment):
    response = httpx.post(f"{stack.language_url}/v1/detect", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_limits_are_413(stack):
    assert _detect(stack.language_url, {"texts": ["a"] * 1025}).status_code == 413
    big = httpx.post(f"{stack.language_url}/v1/detect", content=b'{"texts": ["' + b"a" * (5 << 20) + b'"]}')
    assert big.status_code == 413
    assert _detect(stack.language_url, {"texts": ["still serving after that"]}).status_code == 200
