"""Bad requests get a V2 error naming the problem (4xx, {"error": ...}), and the servers keep serving."""

from __future__ import annotations

import httpx
import pytest

from tests.support.v2 import MODEL, infer, infer_body

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
]


@pytest.mark.parametrize(("name", "body", "fragment"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_bad_request_is_a_400_v2_error(stack, service, name, body, fragment):
    base = stack.transformer_url if service == "transformer" else stack.predictor_url
    response = httpx.post(f"{base}/v2/models/{MODEL}/infer", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]
    assert infer(base, infer_body(["the fan is loud and the laptop overheats"])).status_code == 200


def test_case_id_count_must_match(stack):
    response = infer(stack.transformer_url, infer_body(["the fan is loud", "the screen flickers"], ["only-one"]))
    assert response.status_code == 400
    assert "case_id" in response.json()["error"]


def test_batch_over_the_limit_is_refused_before_anything_is_processed(stack):
    response = infer(stack.transformer_url, infer_body(["the fan is loud"] * 257))
    assert response.status_code == 400
    assert "exceeds the maximum of 256" in response.json()["error"]


def test_megabyte_case_is_cut_and_answered(stack):
    text = "The battery of my laptop does not charge. " * 25_000  # ~1 MB
    first = infer(stack.transformer_url, infer_body([text]))
    second = infer(stack.transformer_url, infer_body([text]))
    assert first.status_code == 200
    assert first.json()["outputs"] == second.json()["outputs"]
