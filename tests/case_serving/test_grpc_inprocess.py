"""The V2 gRPC service of both services in-process: our servicer behind KServe's interceptors, on
a loopback port the test binds itself (port 0), called with KServe's generated stub.

The stack tests (``test_bad_input_grpc.py``, ``test_routes_not_served.py``, ``test_v2_clients.py``)
call the same service in running processes; these are their fast counterparts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest
from kserve import Model
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from predictor.model import CaseClassifierModel
from predictor.settings import PredictorSettings
from tests.support.inprocess import VERSION, ScriptedPredictor, grpc_server, small_artifact, transformer
from tests.support.v2 import MODEL
from tests.transformer.test_bad_input import ODD_TEXTS
from tests.transformer.test_bad_input_grpc import INVALID

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]
SERVICES = ["transformer", "predictor"]
Tensor = pb.ModelInferRequest.InferInputTensor
BATTERY = b"The battery of my laptop does not charge any more, it stays at 0%."
FAN = b"The fan of my laptop is extremely loud and it overheats when idle."
AUTO = b"Automatic reply: I am out of the office until Monday."


@pytest.fixture(scope="module")
async def one_event_loop() -> AsyncIterator[None]:
    """Every test of the module on one event loop: gRPC's aio poller thread can deliver a closed
    server's last event after its test's loop closed, and on a new loop per test that surfaced as
    "Event loop is closed" in the next test's setup (seen once in a make check under load)."""
    yield  # noqa: PT022 - suspended here, the fixture holds the module's loop until its teardown


@pytest.fixture(scope="module")
def predictor_model(tmp_path_factory: pytest.TempPathFactory) -> CaseClassifierModel:
    model = CaseClassifierModel(MODEL, PredictorSettings(model_dir=str(small_artifact(tmp_path_factory))))
    model.load()
    return model


@pytest.fixture(params=SERVICES)
def served(request: pytest.FixtureRequest) -> tuple[str, Model, ScriptedPredictor | None]:
    """(service name, model, the transformer's predictor double or None)."""
    if request.param == "transformer":
        model, predictor, _, _ = transformer()
        return "transformer", model, predictor
    return "predictor", request.getfixturevalue("predictor_model"), None


@pytest.fixture
async def stub(served) -> AsyncIterator[pb_grpc.GRPCInferenceServiceStub]:
    _, model, _ = served
    async with grpc_server(model, model.request_limits) as address, grpc.aio.insecure_channel(address) as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def _strings(name: str, values: list[bytes], shape: list[int] | None = None) -> Tensor:
    tensor = Tensor(name=name, datatype="BYTES", shape=shape or [len(values)])
    tensor.contents.bytes_contents.extend(values)
    return tensor


def _request(inputs: list[Tensor], model: str = MODEL, **fields: object) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(model_name=model, id="grpc-1", inputs=inputs, **fields)  # type: ignore[arg-type]


def _read(response: pb.ModelInferResponse) -> dict[str, list]:
    """Every output, decoded from ``raw_output_contents`` as Triton's client reads them."""
    assert len(response.raw_output_contents) == len(response.outputs)
    read: dict[str, list] = {}
    for output, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        if output.datatype == "BYTES":
            values, offset = [], 0
            while offset < len(raw):
                size = int.from_bytes(raw[offset : offset + 4], "little")
                values.append(raw[offset + 4 : offset + 4 + size].decode())
                offset += 4 + size
            read[output.name] = values
        else:
            read[output.name] = np.frombuffer(raw, dtype="<f4").tolist()
    return read


async def _refused(stub, request: pb.ModelInferRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModelInfer(request, timeout=10)
    return caught.value


async def _still_serving(stub) -> None:
    assert _read(await stub.ModelInfer(_request([_strings("text", [FAN])]), timeout=10))["label"] == ["thermal_fan"]


async def test_a_case_gets_its_category_in_raw_outputs(stub, served):
    name, _, _ = served
    response = await stub.ModelInfer(_request([_strings("text", [BATTERY, FAN])]), timeout=10)
    read = _read(response)
    assert read["label"] == ["battery_power", "thermal_fan"]
    assert all(0 < c <= 1 for c in read["confidence"])
    assert [list(o.shape) for o in response.outputs if o.name == "top_labels"] == [[2, 3]]
    assert (response.id, response.model_name, response.model_version) == ("grpc-1", MODEL, VERSION)
    if name == "transformer":
        assert read["status"] == ["ok", "ok"]


async def test_raw_input_contents_are_read(stub):
    raw = b"".join(len(t).to_bytes(4, "little") + t for t in (BATTERY, FAN))
    request = _request([Tensor(name="text", datatype="BYTES", shape=[2])], raw_input_contents=[raw])
    assert _read(await stub.ModelInfer(request, timeout=10))["label"] == ["battery_power", "thermal_fan"]


async def test_requested_outputs_only_are_returned_and_unknown_ones_refused(stub):
    wanted = [pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in ("confidence", "label")]
    response = await stub.ModelInfer(_request([_strings("text", [BATTERY])], outputs=wanted), timeout=10)
    assert [o.name for o in response.outputs] == ["label", "confidence"]
    unknown = [pb.ModelInferRequest.InferRequestedOutputTensor(name="colour")]
    error = await _refused(stub, _request([_strings("text", [BATTERY])], outputs=unknown))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown output(s) 'colour'" in (error.details() or "")


@pytest.mark.parametrize("case", list(INVALID))
async def test_an_invalid_request_is_invalid_argument_naming_the_problem(stub, served, case):
    inputs, fragment = INVALID[case]
    if isinstance(fragment, tuple):
        fragment = fragment[served[0] == "predictor"]
    error = await _refused(stub, _request(inputs))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert fragment in (error.details() or "")
    await _still_serving(stub)


async def test_a_malformed_raw_tensor_and_a_batch_over_the_limit_are_invalid_argument(stub, served):
    _, model, _ = served
    malformed = _request([Tensor(name="text", datatype="BYTES", shape=[1])], raw_input_contents=[b"\x40\0\0\0short"])
    assert (await _refused(stub, malformed)).code() == grpc.StatusCode.INVALID_ARGUMENT
    limit = model.request_limits.max_cases
    error = await _refused(stub, _request([_strings("text", [b"a"], [limit + 1])]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"exceeds the maximum of {limit}" in (error.details() or "")
    await _still_serving(stub)


async def test_odd_texts_are_answered_one_label_each(stub):
    texts = [text.encode() for text in ODD_TEXTS.values()]
    response = await stub.ModelInfer(_request([_strings("text", texts)]), timeout=10)
    assert len(_read(response)["label"]) == len(texts)


async def test_an_unknown_model_or_another_version_is_not_found(stub):
    error = await _refused(stub, _request([_strings("text", [FAN])], model="no-such-model"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await _refused(stub, _request([_strings("text", [FAN])], model_version="0.9.0"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert f"the served version is {VERSION}" in (error.details() or "")
    served = await stub.ModelInfer(_request([_strings("text", [FAN])], model_version=VERSION), timeout=10)
    assert _read(served)["label"] == ["thermal_fan"]


async def test_the_repository_api_is_permission_denied_and_the_model_stays(stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name=MODEL), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "repository API is disabled" in (caught.value.details() or "")
    assert (await stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=10)).ready
    await _still_serving(stub)


async def test_health_and_metadata(stub, served):
    assert (await stub.ServerLive(pb.ServerLiveRequest(), timeout=10)).live
    assert (await stub.ServerReady(pb.ServerReadyRequest(), timeout=10)).ready
    meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=MODEL), timeout=10)
    expected = ["text", "case_id"] if served[0] == "transformer" else ["text"]
    assert [t.name for t in meta.inputs] == expected


async def test_the_request_id_metadata_is_bounded(stub):
    error = await _refused_with_metadata(stub, [("x-request-id", "h" * 5000)])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-request-id" in (error.details() or "")


async def _refused_with_metadata(stub, metadata: list[tuple[str, str]]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModelInfer(_request([_strings("text", [FAN])]), metadata=metadata, timeout=10)
    return caught.value


@pytest.mark.parametrize("served", ["transformer"], indirect=True)
async def test_an_unavailable_predictor_is_unavailable_naming_it(stub, served):
    _, _, predictor = served
    predictor.failure = ConnectionRefusedError("connection refused")
    error = await _refused(stub, _request([_strings("text", [BATTERY])]))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "predictor unavailable" in (error.details() or "")
    answered = await stub.ModelInfer(_request([_strings("text", [AUTO])]), timeout=10)
    assert _read(answered)["status"] == ["auto_reply"]


async def test_past_its_rate_a_caller_gets_resource_exhausted_with_retry_after() -> None:
    """The gate as the transformer runs it, with a CRM rate of 1 per second (bursts of 2): the third
    call at once is RESOURCE_EXHAUSTED saying when to retry; another CRM principal still passes."""
    from case_serving.access import Gate, RateLimiter, parse_rates
    from case_serving.access_grpc import GateInterceptor
    from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER
    from case_serving.tokens import Issuer, TokenPolicy, TokenVerifier
    from dev.tokens import JWKS, KEYS
    from tests.support.auth import token

    verifier = TokenVerifier([Issuer(DEV_ISSUER, DEV_AUDIENCE, str(KEYS / JWKS))], TokenPolicy())
    gate = GateInterceptor(Gate(verifier, RateLimiter(parse_rates(["crm=1"]))), {"crm"})
    model, _, _, _ = transformer()
    async with grpc_server(model, model.request_limits, gate) as address, grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)

        async def call(subject: str) -> None:
            metadata = (("authorization", f"Bearer {token('crm', subject)}"),)
            await stub.ModelInfer(_request([_strings("text", [BATTERY])]), metadata=metadata, timeout=10)

        await call("crm-loop")
        await call("crm-loop")
        with pytest.raises(grpc.aio.AioRpcError) as limited:
            await call("crm-loop")
        assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(limited.value.trailing_metadata() or ())
        assert int(trailers["retry-after"]) >= 1
        await call("crm-other")  # a bucket of its own
        with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
            await stub.ModelInfer(_request([_strings("text", [BATTERY])]), timeout=10)
        assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (await stub.ServerLive(pb.ServerLiveRequest(), timeout=10)).live  # health stays open
