"""Requests are refused by their shape before their content is decoded, over REST and gRPC alike,
and every refusal is short whatever the request held.

Each refusal names the limit that its shape broke, not a problem that only decoding could have
found (an element count, a bad element): that is what shows the check came first.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import grpc
import httpx
import orjson
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from case_serving.identifiers import MAX_CASE_ID_CHARS, MAX_REQUEST_ID_CHARS
from tests.support.auth import bearer, token
from tests.support.v2 import MODEL, infer, infer_body

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
SERVICES = ["transformer", "predictor"]
MAX_CASES = {"transformer": 256, "predictor": 1024}
#: Longest refusal accepted, whatever the request held (megabytes of names, say).
MAX_MESSAGE_CHARS = 400
GOOD = "the fan is loud and the laptop overheats"


def _base(stack, service: str) -> str:
    return stack.transformer_url if service == "transformer" else stack.predictor_url


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST ``body`` to the infer route as a CRM (the predictor has no in-app auth and ignores it)."""
    headers = {"content-type": "application/json", **bearer(), **(headers or {})}
    return httpx.post(f"{url}/v2/models/{MODEL}/infer", content=body, headers=headers, timeout=30)


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text[:300]
    message = response.json()["error"]
    assert len(message) <= MAX_MESSAGE_CHARS, message[:100]
    return message


def _tensor(name: str, data: list, shape: list | None = None) -> dict:
    return {"name": name, "datatype": "BYTES", "shape": shape if shape is not None else [len(data)], "data": data}


REST_CASES = {
    # name: (body builder(max_cases), fragment of the refusal)
    "150,000 inputs entries": (lambda m: {"inputs": [{}] * 150_000}, "150000 inputs"),
    "shape of ten million with one element": (lambda m: {"inputs": [_tensor("text", ["a"], [10**7])]}, "exceeds"),
    "a million elements over the maximum": (lambda m: {"inputs": [_tensor("text", ["a"] * 10**6)]}, "exceeds"),
    "request id of 100,000 characters": (
        lambda m: {"id": "r" * 100_000, "inputs": [_tensor("text", [GOOD])]},
        f"at most {MAX_REQUEST_ID_CHARS}",
    ),
    "1,000 unknown input names of 1 KB": (
        lambda m: {"inputs": [_tensor(f"{i:04d}" + "x" * 1000, ["a"]) for i in range(1000)]},
        "inputs",
    ),
    "unknown input name of 1 MB": (lambda m: {"inputs": [_tensor("x" * 2**20, ["a"])]}, "unknown input"),
}


@pytest.mark.parametrize("case", list(REST_CASES))
@pytest.mark.parametrize("service", SERVICES)
def test_rest_request_refused_by_shape(stack, service, case, reliability):
    build, fragment = REST_CASES[case]
    message = _refusal(_post(_base(stack, service), orjson.dumps(build(MAX_CASES[service]))))
    assert fragment in message
    assert infer(_base(stack, service), infer_body([GOOD])).status_code == 200
    reliability.record("Bad input, REST", case, 1, "400 naming the limit, before decoding; message bounded")


@pytest.mark.parametrize("service", SERVICES)
def test_request_id_header_and_case_ids_are_bounded(stack, service, reliability):
    base = _base(stack, service)
    message = _refusal(_post(base, orjson.dumps(infer_body([GOOD])), {"x-request-id": "h" * 5000}))
    assert "x-request-id" in message
    if service == "transformer":
        body = infer_body([GOOD, GOOD], case_ids=["C-1", "c" * (MAX_CASE_ID_CHARS + 1)])
        assert "case_id" in _refusal(_post(base, orjson.dumps(body)))
    reliability.record("Bad input, REST", "x-request-id header of 5,000 chars; over-long case_id", 1, "400 naming it")


@pytest.mark.parametrize("service", SERVICES)
def test_oversized_body_is_a_413_even_for_a_client_that_writes_before_it_reads(stack, service, reliability):
    """Python's urllib sends the whole body before reading: it must get the 413, not a reset."""
    body = orjson.dumps(infer_body(["x" * (20 * 2**20)]))
    request = urllib.request.Request(
        f"{_base(stack, service)}/v2/models/{MODEL}/infer",
        data=body,
        headers={"content-type": "application/json", **bearer()},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert "exceeds the limit" in orjson.loads(refused.value.read())["error"]
    assert infer(_base(stack, service), infer_body([GOOD])).status_code == 200
    reliability.record("Bad input, REST", "20 MB body from a client that writes before it reads", 1, "413 received")


Tensor = pb.ModelInferRequest.InferInputTensor


def _crm_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying a CRM's token (the predictor has no in-app auth and ignores it)."""
    return (("authorization", f"Bearer {token('crm')}"),)


def _grpc_tensor(name: str, values: list[bytes], shape: list[int] | None = None) -> Tensor:
    tensor = Tensor(name=name, datatype="BYTES", shape=shape if shape is not None else [len(values)])
    tensor.contents.bytes_contents.extend(values)
    return tensor


GRPC_CASES = {
    "a million elements over the maximum": (lambda: [_grpc_tensor("text", [b"a"] * 10**6)], "", "exceeds"),
    "shape of ten million with one element": (lambda: [_grpc_tensor("text", [b"a"], [10**7])], "", "exceeds"),
    "10,000 inputs entries": (lambda: [_grpc_tensor("text", [b"a"])] * 10_000, "", "10000 inputs"),
    "request id of 100,000 characters": (
        lambda: [_grpc_tensor("text", [GOOD.encode()])],
        "r" * 100_000,
        f"at most {MAX_REQUEST_ID_CHARS}",
    ),
}


@pytest.fixture(scope="module")
def stubs(stack):
    channels = {
        "transformer": grpc.insecure_channel(f"127.0.0.1:{stack.stack.ports.grpc}"),
        "predictor": grpc.insecure_channel(f"127.0.0.1:{stack.stack.ports.predictor_grpc}"),
    }
    yield {name: pb_grpc.GRPCInferenceServiceStub(channel) for name, channel in channels.items()}
    for channel in channels.values():
        channel.close()


@pytest.mark.parametrize("case", list(GRPC_CASES))
@pytest.mark.parametrize("service", SERVICES)
def test_grpc_request_refused_by_shape(stubs, service, case, reliability):
    build, request_id, fragment = GRPC_CASES[case]
    request = pb.ModelInferRequest(model_name=MODEL, id=request_id, inputs=build())
    with pytest.raises(grpc.RpcError) as refused:
        stubs[service].ModelInfer(request, timeout=30, metadata=_crm_metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert fragment in refused.value.details()
    assert len(refused.value.details()) <= MAX_MESSAGE_CHARS
    good = pb.ModelInferRequest(model_name=MODEL, inputs=[_grpc_tensor("text", [GOOD.encode()])])
    assert stubs[service].ModelInfer(good, timeout=10, metadata=_crm_metadata()).outputs
    reliability.record("Bad input, gRPC", case, 1, "INVALID_ARGUMENT naming the limit, before decoding")
