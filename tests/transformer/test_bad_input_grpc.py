"""The bad-input catalogue over gRPC: INVALID_ARGUMENT (or NOT_FOUND, RESOURCE_EXHAUSTED) naming
the problem, never INTERNAL, and the server keeps serving."""

from __future__ import annotations

import grpc
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from tests.support.auth import token
from tests.support.v2 import MODEL
from tests.transformer.test_bad_input import ODD_TEXTS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
GOOD_TEXT = b"the fan is loud and the laptop overheats"
Tensor = pb.ModelInferRequest.InferInputTensor


def _strings(name: str, values: list[bytes], shape: list[int] | None = None) -> Tensor:
    tensor = Tensor(name=name, datatype="BYTES", shape=shape or [len(values)])
    tensor.contents.bytes_contents.extend(values)
    return tensor


def _fp32() -> Tensor:
    tensor = Tensor(name="text", datatype="FP32", shape=[1])
    tensor.contents.fp32_contents.append(1.0)
    return tensor


INVALID = {
    "no inputs": ([], "missing required input"),
    "unknown input": ([_strings("txt", [GOOD_TEXT])], "unknown input"),
    "wrong datatype": ([_fp32()], "BYTES"),
    "shape mismatch": ([_strings("text", [GOOD_TEXT], [2])], "shape [2]"),
    "2-D shape": ([_strings("text", [GOOD_TEXT], [1, 1])], "shape [N]"),
    "non-UTF-8 bytes": ([_strings("text", [b"\xff\xfe broken"])], "UTF-8"),
    # The predictor takes one input, so two are refused by count before their names are compared.
    "duplicate inputs": ([_strings("text", [GOOD_TEXT]), _strings("text", [GOOD_TEXT])], ("duplicate", "at most 1")),
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


def _infer(stub, inputs: list[Tensor], model: str = MODEL, raw: list[bytes] | None = None) -> pb.ModelInferResponse:
    request = pb.ModelInferRequest(model_name=model, id="grpc-bad", inputs=inputs)
    if raw is not None:
        request.raw_input_contents.extend(raw)
    # A CRM's token (the predictor has no in-app auth and ignores it).
    return stub.ModelInfer(request, timeout=10, metadata=(("authorization", f"Bearer {token('crm')}"),))


def _refused(stub, inputs, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _infer(stub, inputs, **kwargs)
    return caught.value


def _still_serving(stub) -> None:
    response = _infer(stub, [_strings("text", [GOOD_TEXT])])
    assert [o.name for o in response.outputs][:1] == ["label"]


@pytest.mark.parametrize("name", list(INVALID))
@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_invalid_request_is_invalid_argument(stubs, service, name, reliability):
    inputs, fragment = INVALID[name]
    if isinstance(fragment, tuple):
        fragment = fragment[service == "predictor"]
    error = _refused(stubs[service], inputs)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert fragment in error.details()
    _still_serving(stubs[service])
    reliability.record("Bad input, gRPC", name, 1, "INVALID_ARGUMENT naming it; still serving")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_malformed_raw_bytes_tensor(stubs, service, reliability):
    tensor = Tensor(name="text", datatype="BYTES", shape=[1])
    error = _refused(stubs[service], [tensor], raw=[b"\x40\x00\x00\x00short"])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    _still_serving(stubs[service])
    reliability.record("Bad input, gRPC", "malformed raw bytes tensor", 1, "INVALID_ARGUMENT; still serving")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_batch_over_the_limit(stubs, service, reliability):
    limit = 256 if service == "transformer" else 1024
    error = _refused(stubs[service], [_strings("text", [GOOD_TEXT] * (limit + 1))])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"exceeds the maximum of {limit}" in error.details()
    _still_serving(stubs[service])
    reliability.record(
        "Bad input, gRPC", "batch over the maximum", 1, "INVALID_ARGUMENT naming the limit; still serving"
    )


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_unknown_model_is_not_found(stubs, service, reliability):
    error = _refused(stubs[service], [_strings("text", [GOOD_TEXT])], model="no-such-model")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    reliability.record("Bad input, gRPC", "unknown model", 1, "NOT_FOUND")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_message_over_the_limit_is_resource_exhausted(stubs, service, reliability):
    error = _refused(stubs[service], [_strings("text", [b"x" * (9 * 2**20)])])
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_serving(stubs[service])
    reliability.record("Bad input, gRPC", "9 MB message (over the limit)", 1, "RESOURCE_EXHAUSTED; still serving")


def test_case_id_count_must_match(stubs, reliability):
    inputs = [_strings("text", [GOOD_TEXT, GOOD_TEXT]), _strings("case_id", [b"only-one"])]
    error = _refused(stubs["transformer"], inputs)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "case_id" in error.details()
    reliability.record("Bad input, gRPC", "case_id count not matching text", 1, "INVALID_ARGUMENT naming it")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_odd_texts_are_answered(stubs, service, reliability):
    texts = [text.encode() for text in ODD_TEXTS.values()]
    response = _infer(stubs[service], [_strings("text", texts)])
    label = next(o for o in response.outputs if o.name == "label")
    assert list(label.shape) == [len(texts)]
    reliability.record("Odd texts", "all of them in one gRPC batch", len(texts), "answered, one label each")
