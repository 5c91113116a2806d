"""Arbitrary V2 request bodies (Hypothesis): decoded, or refused with ``InvalidInput`` naming the
problem; nothing else escapes, in-process and through a running service."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kserve.errors import InvalidInput

from case_serving import schema
from case_serving.limits import RequestLimits
from case_serving.rest_infer import decode_request
from case_serving.tensors import named_inputs
from tests.support.auth import bearer
from tests.support.v2 import MODEL

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
names = st.sampled_from(["text", "case_id", "txt", ""]) | st.text(max_size=6)
tensors = st.fixed_dictionaries(
    {},
    optional={
        "name": names | json_values,
        "datatype": st.sampled_from(["BYTES", "FP32", "INT64", "bytes"]) | json_values,
        "shape": st.lists(st.integers(-2, 4), max_size=3) | json_values,
        "data": st.lists(st.text(max_size=30) | json_values, max_size=4) | json_values,
        "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=2) | json_values,
    },
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=10) | json_values,
            "inputs": st.lists(tensors, max_size=3) | json_values,
            "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=2) | json_values,
        },
    )
    | json_values
)


LIMITS = RequestLimits(schema.names(schema.TRANSFORMER_INPUTS), 256, schema.names(schema.TRANSFORMER_OUTPUTS))


def _decode(body: object) -> dict[str, list[str]]:
    request = decode_request(json.dumps(body).encode(), MODEL, LIMITS)  # stdlib: any integer, as a CRM might send
    return named_inputs(request, LIMITS)


@given(bodies)
@example({"parameters": {"": -9223372036854775809}})  # found by Hypothesis: beyond 64 bits
@example({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [True], "data": ["a"]}]})
@example({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [None]}]})
@example({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1], "data": []}]})
def test_any_body_decodes_or_is_invalid_input(reliability, body):
    try:
        decoded = _decode(body)
    except InvalidInput as error:
        message = str(error)
        assert message, "an InvalidInput must say what is wrong"
    else:
        assert all(isinstance(text, str) for values in decoded.values() for text in values)
    reliability.record(
        "Fuzzing",
        "arbitrary V2 bodies, decoded in-process (Hypothesis)",
        1,
        "decoded, or InvalidInput naming the problem",
    )


@pytest.mark.slow
@pytest.mark.xdist_group("stack")
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(body=bodies)
def test_any_body_gets_an_answer_or_a_v2_error_from_the_transformer(stack, body, reliability):
    response = httpx.post(
        f"{stack.transformer_url}/v2/models/{MODEL}/infer",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **bearer()},
        timeout=10,
    )
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]
    reliability.record(
        "Fuzzing", "arbitrary V2 bodies to the running transformer (Hypothesis)", 1, "200 or 400 with a V2 error"
    )


def test_an_unknown_model_version_is_left_out_not_null():
    from kserve.protocol.infer_type import InferOutput, InferResponse

    from case_serving.rest_infer import encode_response

    request = decode_request(
        json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}).encode(),
        MODEL,
        LIMITS,
    )
    output = InferOutput("label", [1], "BYTES", ["x"])
    unknown = json.loads(encode_response(InferResponse("r", MODEL, [output], model_version=None), request))
    assert "model_version" not in unknown
    known = json.loads(encode_response(InferResponse("r", MODEL, [output], model_version="1.2.0"), request))
    assert known["model_version"] == "1.2.0"
