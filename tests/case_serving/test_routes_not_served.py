"""What Schemathesis found, kept as regression tests: routes KServe offers that our services must
not serve (the repository extension unloaded the model for good, V1 predict answered 500,
versioned paths 501) and Starlette refusals in a non-V2 shape."""

from __future__ import annotations

import grpc
import httpx
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
SERVICES = ["transformer", "predictor"]


@pytest.fixture(params=SERVICES)
def service(request, stack) -> tuple[str, str]:
    """(REST base URL, gRPC address) of each service."""
    ports = stack.stack.ports
    if request.param == "transformer":
        return stack.transformer_url, f"127.0.0.1:{ports.grpc}"
    return stack.predictor_url, f"127.0.0.1:{ports.predictor_grpc}"


def _v2_error(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert words in response.json()["error"]


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/v2/models/{MODEL}/ready").status_code == 200


@pytest.mark.parametrize("action", ["unload", "load"])
def test_repository_api_is_refused_and_the_model_stays(service, action, reliability):
    url, _ = service
    _v2_error(httpx.post(f"{url}/v2/repository/models/{MODEL}/{action}"), 403, "repository API is disabled")
    assert _ready(url)
    reliability.record("Bad input, REST", f"model-repository {action} call", 1, "403; the model stays loaded and ready")


def test_repository_api_over_grpc_is_permission_denied(service, stack, reliability):
    url, address = service
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name=MODEL), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "repository API is disabled" in caught.value.details()
    assert _ready(url)
    assert outputs(infer(stack.transformer_url, infer_body(["The printer jams on every page."])))["label"]
    reliability.record(
        "Bad input, gRPC", "model-repository unload call", 1, "PERMISSION_DENIED; the model stays loaded and ready"
    )


@pytest.mark.parametrize("verb", ["predict", "explain"])
def test_v1_protocol_is_a_clear_404(service, verb, reliability):
    url, _ = service
    response = httpx.post(f"{url}/v1/models/{MODEL}:{verb}", json={"instances": ["hello"]})
    _v2_error(response, 404, f"use POST /v2/models/{MODEL}/infer")
    reliability.record("Bad input, REST", f"V1 {verb} request", 1, "404 naming the V2 route to use")


@pytest.mark.parametrize(
    "path",
    [
        f"/v2/models/{MODEL}/versions/1.0.0/ready",
        f"/v2/models/{MODEL}?model_version=1",
        f"/v2/models/{MODEL}/ready?model_version=x",
    ],
)
def test_version_addressed_requests_are_a_clear_404(service, path, reliability):
    url, _ = service
    _v2_error(httpx.get(f"{url}{path}"), 404, "model versions are not addressable")
    reliability.record(
        "Bad input, REST", "model version in the path or query", 1, "404 saying versions are not addressable"
    )


def test_unparseable_body_for_another_model_is_a_v2_400(service):
    url, _ = service
    response = httpx.post(
        f"{url}/v2/models/other/infer", content=b"\xff\xfe[\x80", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]


def test_unknown_path_is_a_v2_404(service):
    url, _ = service
    _v2_error(httpx.get(f"{url}/no/such/path"), 404, "Not Found")
