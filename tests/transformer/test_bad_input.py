"""Bad requests get a V2 error naming the problem (4xx, {"error": ...}), and the servers keep serving."""

from __future__ import annotations

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

CASES = [
    ("malformed JSON", b"{bad json", "invalid request"),
    ("inputs not a list", b'{"inputs": 5}', "inputs"),
    ("missing inputs", b'{"id": "x"}', "inputs"),
    ("unknown input", b'{"inputs":[{"name":"txt","datatype":"BYTES","shape":[1],"data":["a"]}]}', "unknown input"),
    ("wrong datatype", b'{"inputs":[{"name":"text","datatype":"FP32","shape":[1],"data":[1.0]}]}', "BYTES"),
    ("shape mismatch", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["a"]}]}', "shape [2]"),
    ("nested data", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":[["a"]]}]}', "must be a string"),
    ("2-D shape", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1,1],"data":["a"]}]}', "shape [N]"),
    ("non-UTF-8 bytes", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["\xff\xfe"]}]}', "UTF-8"),
    ("body not an object", b'[{"name":"text"}]', "JSON object"),
    ("data not a list", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":"abc"}]}', "list"),
    ("input without a name", b'{"inputs":[{"datatype":"BYTES","shape":[1],"data":["a"]}]}', "name: missing"),
    ("shape not integers", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":["1"],"data":["a"]}]}', "integers"),
    ("input not an object", b'{"inputs":["the fan is loud"]}', "inputs.0"),
    (
        "lone surrogate escape",
        b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["\\ud800 a"]}]}',
        "surrogate",
    ),
    ("data missing", b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1]}]}', "data: missing"),
]
GOOD = b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["the fan is loud"]}]}'
#: Texts a CRM passes on as customers wrote them: every one is answered 200 with a status per case.
ODD_TEXTS = {
    "empty string": "",
    "whitespace only": " \t\n \u00a0 ",
    "control characters": "my\x00 laptop\x07 does not\x1b[31m charge \x7f at all since monday",
    "zero-width characters": "my\u200b lap\u200ctop\u200d does\ufeff not charge at all since monday",
    "right-to-left text": "\u202eegrahc ton seod potpal ym \u05d4\u05de\u05d7\u05e9\u05d1 \u0644\u0627 \u064a\u0639",
    "emoji": "\U0001f621\U0001f4bb my laptop \U0001f50b does not charge \U0001f62d\U0001f62d since monday",
    "mixed scripts": "mein Laptop \u043d\u0435 \u0437\u0430\u0440\u044f\u0436\u0430\u0435\u0442 \u5145\u7535 battery",
}


@pytest.mark.parametrize(("name", "body", "fragment"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_bad_request_is_a_400_v2_error(stack, service, name, body, fragment, reliability):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    response = httpx.post(
        f"{base}/v2/models/{MODEL}/infer", content=body, headers={"content-type": "application/json", **bearer()}
    )
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]
    assert infer(base, infer_body(["the fan is loud and the laptop overheats"])).status_code == 200
    reliability.record("Bad input, REST", name, 1, "400 naming it; still serving")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_wrong_content_type_is_a_415_naming_it(stack, service, reliability):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    response = httpx.post(
        f"{base}/v2/models/{MODEL}/infer", content=GOOD, headers={"content-type": "text/plain", **bearer()}
    )
    assert response.status_code == 415
    assert "text/plain" in response.json()["error"]
    reliability.record("Bad input, REST", "wrong content type", 1, "415 naming it")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_body_over_the_limit_is_a_413_before_it_is_read(stack, service, chunked, reliability):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    body = b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["' + b"x" * (9 * 2**20) + b'"]}]}'
    content = iter([body[i : i + 2**20] for i in range(0, len(body), 2**20)]) if chunked else body
    response = httpx.post(
        f"{base}/v2/models/{MODEL}/infer",
        content=content,
        headers={"content-type": "application/json", **bearer()},
        timeout=30,
    )
    assert response.status_code == 413
    assert "exceeds the limit of 8388608 bytes" in response.json()["error"]
    assert infer(base, infer_body(["the fan is loud and the laptop overheats"])).status_code == 200
    reliability.record("Bad input, REST", "9 MB body (over the 8 MiB limit)", 1, "413 before it is read; still serving")


@pytest.mark.parametrize("name", list(ODD_TEXTS))
@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_odd_texts_are_answered(stack, service, name, reliability):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    response = infer(base, infer_body([ODD_TEXTS[name], "the fan is loud and the laptop overheats"]))
    answered = outputs(response)
    assert len(answered["label"]) == 2
    if service == "transformer":
        assert answered["status"][1] == "ok"
        expected = {"empty string": "empty", "whitespace only": "empty"}
        if name in expected:
            assert answered["status"][0] == expected[name]
    reliability.record("Odd texts", name, 1, "200, every case answered (empty ones as `empty`)")


def test_case_id_count_must_match(stack, reliability):
    response = infer(stack.transformer_url, infer_body(["the fan is loud", "the screen flickers"], ["only-one"]))
    assert response.status_code == 400
    assert "case_id" in response.json()["error"]
    reliability.record("Bad input, REST", "case_id count not matching text", 1, "400 naming it")


def test_batch_over_the_limit_is_refused_before_anything_is_processed(stack, reliability):
    response = infer(stack.transformer_url, infer_body(["the fan is loud"] * 257))
    assert response.status_code == 400
    assert "exceeds the maximum of 256" in response.json()["error"]
    reliability.record("Bad input, REST", "batch of 257 (over the maximum)", 1, "400, nothing processed")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_megabyte_case_is_cut_and_answered(stack, service, reliability):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    text = "The battery of my laptop does not charge. " * 25_000  # ~1 MB
    first = infer(base, infer_body([text]))
    second = infer(base, infer_body([text]))
    assert first.status_code == 200
    assert first.json()["outputs"] == second.json()["outputs"]
    assert outputs(first)["label"] == ["battery_power"]
    reliability.record("Odd texts", "1 MB text", 2, "200, cut deterministically (same answer twice)")
