"""Only the CRM classifies: the real transformer refuses every forged, stale or foreign token with
401 (gRPC UNAUTHENTICATED), quickly, a wrong role with 403 (PERMISSION_DENIED), and keeps
answering health on time while refusing a flood of them."""

from __future__ import annotations

import threading
import time

import grpc
import httpx
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from tests.support.auth import bearer, forged, token
from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
TEXT = "the fan is loud and the laptop overheats"


def _rest(stack, headers: dict[str, str]) -> httpx.Response:
    url = f"{stack.transformer_url}/v2/models/{MODEL}/infer"
    return httpx.post(url, json=infer_body([TEXT]), headers=headers, timeout=10)


@pytest.fixture(scope="module")
def stub(stack):
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.stack.ports.grpc}")
    yield pb_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def _grpc(stub, authorization: str | None) -> pb.ModelInferResponse:
    tensor = pb.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(TEXT.encode())
    metadata = (("authorization", authorization),) if authorization is not None else ()
    request = pb.ModelInferRequest(model_name=MODEL, id="auth", inputs=[tensor])
    return stub.ModelInfer(request, timeout=10, metadata=metadata)


def test_the_crm_classifies_over_rest_and_grpc(stack, stub):
    assert outputs(_rest(stack, bearer("crm")))["label"]
    assert [output.name for output in _grpc(stub, f"Bearer {token('crm')}").outputs][:1] == ["label"]


@pytest.mark.parametrize("name", ["no token", *sorted(forged())])
def test_a_missing_or_forged_token_is_401_quickly(stack, stub, name):
    header = None if name == "no token" else f"Bearer {forged()[name]}"
    started = time.monotonic()
    answer = _rest(stack, {"Authorization": header} if header else {})
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == ("Bearer" if header is None else 'Bearer error="invalid_token"')
    assert set(answer.json()) == {"error"}
    with pytest.raises(grpc.RpcError) as refused:
        _grpc(stub, header)
    # gRPC's transport refuses metadata over 16 KB itself, before any handler or interceptor.
    expected = grpc.StatusCode.RESOURCE_EXHAUSTED if name == "64 KB" else grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.code() == expected, refused.value.details()
    assert time.monotonic() - started < 5, "a refusal costs no wait"


@pytest.mark.parametrize("role", ["agent", "service", "privacy", "reader"])
def test_another_role_is_403(stack, stub, role):
    answer = _rest(stack, bearer(role))
    assert answer.status_code == 403
    assert answer.json() == {"error": "the caller's roles do not allow this call"}
    with pytest.raises(grpc.RpcError) as refused:
        _grpc(stub, f"Bearer {token(role)}")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_health_and_metadata_stay_open(stack, stub):
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}", f"/v2/models/{MODEL}/ready"):
        assert httpx.get(stack.transformer_url + path, timeout=5).status_code == 200, path
    assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live


def test_every_other_write_route_asks_for_a_token_too(stack):
    """Deny by default: KServe's other POST routes (versioned infer, V1, repository) are refused
    before they are looked at."""
    for path in (
        f"/v2/models/{MODEL}/versions/1/infer",
        f"/v1/models/{MODEL}:predict",
        f"/v2/repository/models/{MODEL}/load",
        "/no/such/route",
    ):
        answer = httpx.post(stack.transformer_url + path, json={}, timeout=5)
        assert answer.status_code == 401, (path, answer.text)


def test_health_stays_on_time_under_a_flood_of_forged_tokens(stack):
    """Eight clients send 64 KB and bad-signature tokens as fast as they can; liveness answers."""
    stop = threading.Event()
    refused = []
    bad = [forged()["64 KB"], forged()["flipped signature byte"], forged()["another issuer's key"]]

    def flood(n: int) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                answer = client.post(
                    f"{stack.transformer_url}/v2/models/{MODEL}/infer",
                    content=b"{}",
                    headers={"Authorization": f"Bearer {bad[n % len(bad)]}", "content-type": "application/json"},
                )
                refused.append(answer.status_code)
                n += 1

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(20):
            started = time.monotonic()
            assert httpx.get(f"{stack.transformer_url}/v2/health/live", timeout=5).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert set(refused) == {401}
    assert len(refused) > 50
    assert max(latencies) < 1.0, latencies
    assert outputs(infer(stack.transformer_url, infer_body([TEXT])))["label"], "still classifying"
