"""What Schemathesis found, kept as regression tests: routes KServe offers that our services must
not serve (the repository extension unloaded the model for good, V1 predict answered 500,
versioned paths 501, now served for the served version and 404 for others) and Starlette
refusals in a non-V2 shape."""

from __future__ import annotations

import grpc
import httpx
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from tests.support.auth import bearer, token
from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
SERVICES = ["transformer", "predictor"]


def _crm_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying a CRM's token (the transformer's gate lets it through; the
    predictor has no in-app auth), so what answers is the route itself."""
    return (("authorization", f"Bearer {token('crm')}"),)


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
    refused = httpx.post(f"{url}/v2/repository/models/{MODEL}/{action}", headers=bearer())
    _v2_error(refused, 403, "repository API is disabled")
    assert _ready(url)
    reliability.record("Bad input, REST", f"model-repository {action} call", 1, "403; the model stays loaded and ready")


def test_repository_api_over_grpc_is_permission_denied(service, stack, reliability):
    url, address = service
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.RepositoryModelUnload(
                pb.RepositoryModelUnloadRequest(model_name=MODEL), timeout=10, metadata=_crm_metadata()
            )
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
    response = httpx.post(f"{url}/v1/models/{MODEL}:{verb}", json={"instances": ["hello"]}, headers=bearer())
    _v2_error(response, 404, f"use POST /v2/models/{MODEL}/infer")
    reliability.record("Bad input, REST", f"V1 {verb} request", 1, "404 naming the V2 route to use")


SERVED = "1.0.0"  # the version of the session's model


@pytest.mark.parametrize(
    "path",
    [
        f"/v2/models/{MODEL}/versions/{SERVED}/ready",
        f"/v2/models/{MODEL}/versions/{SERVED}",
        f"/v2/models/{MODEL}?model_version={SERVED}",
        f"/v2/models/{MODEL}/ready?model_version={SERVED}",
    ],
)
def test_the_served_version_answers_on_its_versioned_routes(service, path, reliability):
    url, _ = service
    assert infer(url, infer_body(["the fan is loud and the laptop overheats"])).status_code == 200
    assert httpx.get(f"{url}{path}").status_code == 200
    response = httpx.post(
        f"{url}/v2/models/{MODEL}/versions/{SERVED}/infer",
        json=infer_body(["the fan is loud and hot"]),
        timeout=10,
        headers=bearer(),
    )
    assert outputs(response)["label"]
    assert response.json()["model_version"] == SERVED
    reliability.record("Bad input, REST", "the served version named in the path or query", 1, "served as unversioned")


@pytest.mark.parametrize(
    "path",
    [
        f"/v2/models/{MODEL}/versions/0.9.0/ready",
        f"/v2/models/{MODEL}/versions/0.9.0/infer",
        f"/v2/models/{MODEL}?model_version=1",
        f"/v2/models/{MODEL}/ready?model_version=x",
    ],
)
def test_another_version_is_a_404_naming_the_served_one(service, path, reliability):
    url, _ = service
    assert infer(url, infer_body(["the fan is loud and the laptop overheats"])).status_code == 200
    method = httpx.post if path.endswith("/infer") else httpx.get
    kwargs = {"json": infer_body(["the fan is loud"]), "headers": bearer()} if path.endswith("/infer") else {}
    _v2_error(method(f"{url}{path}", **kwargs), 404, f"the served version is {SERVED}")
    reliability.record("Bad input, REST", "another model version in the path or query", 1, "404 naming the served one")


def test_another_version_over_grpc_is_not_found_naming_the_served_one(service, reliability):
    _, address = service
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        tensor = pb.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1])
        tensor.contents.bytes_contents.append(b"the fan is loud and the laptop overheats")
        served = pb.ModelInferRequest(model_name=MODEL, model_version=SERVED, inputs=[tensor])
        other = pb.ModelInferRequest(model_name=MODEL, model_version="0.9.0", inputs=[tensor])
        stub.ModelInfer(served, timeout=10, metadata=_crm_metadata())
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(other, timeout=10, metadata=_crm_metadata())
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"the served version is {SERVED}" in refused.value.details()
    reliability.record("Bad input, gRPC", "another model version", 1, "NOT_FOUND naming the served one")


def test_unparseable_body_for_another_model_is_a_v2_400(service):
    url, _ = service
    response = httpx.post(
        f"{url}/v2/models/other/infer",
        content=b"\xff\xfe[\x80",
        headers={"content-type": "application/json", **bearer()},
    )
    assert response.status_code == 400
    assert response.json()["error"]


def test_unknown_path_is_a_v2_404(service):
    url, _ = service
    _v2_error(httpx.get(f"{url}/no/such/path"), 404, "Not Found")
