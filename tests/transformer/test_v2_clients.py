"""Any V2 client works: KServe's clients and Triton's ``tritonclient`` (HTTP and gRPC, NumPy 2)
read every output, requested outputs are honoured, unknown ones refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

from case_serving import schema
from tests.conftest import ROOT
from tests.support.auth import bearer, token
from tests.support.v2 import MODEL

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
TEXTS = ["The battery of my laptop does not charge any more.", "Automatic reply: I am out of the office"]
OUTPUTS = {"transformer": schema.names(schema.TRANSFORMER_OUTPUTS), "predictor": schema.names(schema.PREDICTOR_OUTPUTS)}


def _addresses(stack, service: str) -> tuple[str, str]:
    ports = stack.stack.ports
    if service == "transformer":
        return f"127.0.0.1:{ports.http}", f"127.0.0.1:{ports.grpc}"
    return f"127.0.0.1:{ports.predictor_http}", f"127.0.0.1:{ports.predictor_grpc}"


def triton(protocol: str, url: str, outputs: list[str] = (), binary: bool = False) -> dict:
    """Ask with tritonclient, in a process of its own (see tests/support/triton_probe.py)."""
    argv = [sys.executable, "-m", "tests.support.triton_probe", protocol, url, *[f"--text={t}" for t in TEXTS]]
    argv += [f"--output={name}" for name in outputs] + (["--binary"] if binary else [])
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    return json.loads(result.stdout)


def _check_answers(answer: dict, names: list[str]) -> None:
    assert answer["numpy"].startswith("2.")
    read = answer["read"]
    assert read["label"]["values"][0] == "battery_power"
    assert read["confidence"]["dtype"] == "float32"
    assert 0 < read["confidence"]["values"][0] <= 1
    assert read["top_labels"]["shape"] == [2, 3]
    if "status" in names:
        assert read["status"]["values"] == ["ok", "auto_reply"]


@pytest.mark.parametrize("service", ["transformer", "predictor"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_http_reads_every_output(stack, service, binary, reliability):
    rest, _ = _addresses(stack, service)
    names = [name for name in OUTPUTS[service] if name != schema.EXPLANATION]
    answer = triton("http", rest, names, binary)
    _check_answers(answer, names)
    assert answer["outputs"] == names
    reliability.record("Bad input, REST", "tritonclient over HTTP (binary and JSON outputs)", 1, "every output read")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_tritonclient_grpc_reads_every_output_from_raw_contents(stack, service, reliability):
    _, address = _addresses(stack, service)
    names = [name for name in OUTPUTS[service] if name != schema.EXPLANATION]
    answer = triton("grpc", address)
    _check_answers(answer, names)
    assert answer["outputs"] == names
    assert answer["raw_contents"] == len(names)
    reliability.record("Bad input, gRPC", "tritonclient over gRPC (NumPy 2)", 1, "every output read from raw contents")


@pytest.mark.parametrize("service", ["transformer", "predictor"])
def test_requested_outputs_only_are_returned_and_unknown_ones_refused(stack, service, reliability):
    rest, address = _addresses(stack, service)
    assert triton("grpc", address, ["confidence", "label"])["outputs"] == ["label", "confidence"]
    assert triton("http", rest, ["confidence", "label"])["outputs"] == ["label", "confidence"]
    refused = triton("grpc", address, ["colour"])
    assert "unknown output" in refused["error"]
    assert "INVALID_ARGUMENT" in refused["status"]
    refused_http = triton("http", rest, ["colour"])
    assert "unknown output" in refused_http["error"]
    assert refused_http["status"] == "400"
    reliability.record("Bad input, REST", "unknown requested output", 1, "400 / INVALID_ARGUMENT naming it")


@pytest.mark.anyio
@pytest.mark.parametrize("service", ["transformer", "predictor"])
async def test_kserve_clients_read_every_output_and_honour_requested_ones(stack, service):
    rest, address = _addresses(stack, service)
    request = InferRequest(
        MODEL,
        [InferInput("text", [len(TEXTS)], "BYTES", TEXTS)],
        request_outputs=[RequestedOutput("label"), RequestedOutput("top_probabilities")],
    )
    rest_client = InferenceRESTClient(RESTConfig(protocol="v2"))
    grpc_client = InferenceGRPCClient(address)
    try:
        for response in (
            await rest_client.infer(f"http://{rest}", request, model_name=MODEL, headers=bearer()),
            await grpc_client.infer(request, headers=[("authorization", f"Bearer {token('crm')}")]),
        ):
            assert [output.name for output in response.outputs] == ["label", "top_probabilities"]
            assert response.outputs[0].as_numpy().tolist()[0] in (b"battery_power", "battery_power")
            assert response.outputs[1].as_numpy().shape == (2, 3)
    finally:
        await rest_client.close()
        await grpc_client.close()
