"""The V2 gRPC service of our model: KServe's servicer, with requests checked before they are decoded.

KServe 0.21's ``ModelInfer`` turns the whole protobuf request into Python lists
(``InferRequest.from_grpc``) before any model code runs: a message of millions of tiny elements
was materialised before the batch-size check refused it. Here ``ModelInfer`` reads the request's
shape off the protobuf message first (``case_serving.limits``: count of inputs, request id, each
tensor's name, datatype, shape and element count, all O(1) on the message), and only then builds
the ``InferRequest`` the model takes. Everything else (health, metadata, the sealed repository
calls) is KServe's servicer as it is.

:class:`GrpcServer` starts it with KServe's own interceptors (which turn ``InvalidInput`` into
``INVALID_ARGUMENT`` and so on) and message-size limits, like KServe's ``GRPCServer``, which builds
its servicer itself and so cannot take this one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures

import numpy as np
from grpc import ServicerContext, aio
from kserve import Model
from kserve.errors import InvalidInput, ModelNotFound
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor, LoggingInterceptor
from kserve.protocol.grpc.servicer import InferenceServicer
from kserve.protocol.infer_type import (
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    RequestedOutput,
    to_http_parameters,
)
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from kserve.utils.utils import to_headers

from case_serving.limits import RequestLimits
from case_serving.logs import REQUEST_ID_HEADER
from case_serving.tensors import check_element_count, check_tensor_header, selected_outputs, split_bytes_elements
from case_serving.versions import not_served

_NUMPY_TYPES = {"FP32": "<f4", "FP64": "<f8", "INT64": "<i8", "INT32": "<i4", "BOOL": "?"}


def decode_grpc_request(request: pb.ModelInferRequest, limits: RequestLimits) -> InferRequest:
    """The ``InferRequest`` for a gRPC request, each part checked before it is decoded."""
    limits.check_input_count(len(request.inputs))
    limits.check_request_id(request.id)
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(f"{len(request.inputs)} inputs but {len(raw)} raw input contents")
    inputs = []
    for index, tensor in enumerate(request.inputs):
        declared = check_tensor_header(tensor.name, tensor.datatype, list(tensor.shape), limits)
        if raw:
            data = split_bytes_elements(tensor.name, raw[index], declared)
        else:
            check_element_count(tensor.name, declared, len(tensor.contents.bytes_contents))
            data = list(tensor.contents.bytes_contents)
        parameters = to_http_parameters(tensor.parameters) if tensor.parameters else None
        inputs.append(InferInput(tensor.name, list(tensor.shape), tensor.datatype, data, parameters))
    limits.check_output_count(len(request.outputs))
    names = [output.name for output in request.outputs]
    limits.check_requested_outputs(names)
    return InferRequest(
        model_name=request.model_name,
        infer_inputs=inputs,
        request_id=request.id,
        parameters=request.parameters,
        request_outputs=[RequestedOutput(name) for name in names] or None,
        model_version=request.model_version,
    )


def _raw(output: InferOutput) -> bytes:
    """An output's data in the V2 binary layout: little-endian numbers, length-prefixed strings."""
    if output.datatype == "BYTES":
        values = [value.encode("utf-8") if isinstance(value, str) else bytes(value) for value in output.data]
        return b"".join(len(value).to_bytes(4, "little") + value for value in values)
    return np.asarray(output.data, dtype=_NUMPY_TYPES[output.datatype]).tobytes()


def encode_grpc_response(response: InferResponse, request: InferRequest) -> pb.ModelInferResponse:
    """The gRPC answer with every output in ``raw_output_contents``, as Triton answers.

    Clients that read only raw outputs (Triton's ``tritonclient``, the most common V2 client; with
    NumPy 2 it cannot read BYTES from typed ``contents`` at all) decode every output this way, and
    KServe's own client reads both. Only the outputs the request named (all when it named none).
    """
    outputs = selected_outputs(response, request)
    return pb.ModelInferResponse(
        id=response.id,
        model_name=response.model_name,
        model_version=response.model_version or "",
        outputs=[
            pb.ModelInferResponse.InferOutputTensor(name=output.name, datatype=output.datatype, shape=output.shape)
            for output in outputs
        ],
        raw_output_contents=[_raw(output) for output in outputs],
    )


class VersionNotServed(ModelNotFound):
    """A request for a version of the model this server does not serve (NOT_FOUND, 404)."""

    def __init__(self, model: str, version: str, served: str | None) -> None:
        super().__init__(model)
        self.reason = not_served(model, version, served)


class CaseInferenceServicer(InferenceServicer):
    """KServe's servicer; ``ModelInfer`` checks the request's shape before decoding it."""

    def __init__(
        self,
        data_plane: DataPlane,
        repository: ModelRepositoryExtension,
        model: Model,
        limits: RequestLimits,
        served_version: Callable[[], str | None],
    ) -> None:
        super().__init__(data_plane, repository)
        self.plane = data_plane
        self.model = model
        self.limits = limits
        self.served_version = served_version

    async def ModelInfer(self, request: pb.ModelInferRequest, context: ServicerContext) -> pb.ModelInferResponse:
        """Check, decode, run the model's lifecycle, encode."""
        if request.model_name != self.model.name:
            raise ModelNotFound(request.model_name)
        if request.model_version and request.model_version != self.served_version():
            raise VersionNotServed(request.model_name, request.model_version, self.served_version())
        headers = to_headers(context)
        self.limits.check_request_id(headers.get(REQUEST_ID_HEADER), f"{REQUEST_ID_HEADER} metadata")
        infer_request = decode_grpc_request(request, self.limits)
        response, _ = await self.plane.infer(request=infer_request, headers=headers, model_name=request.model_name)
        return encode_grpc_response(response, infer_request)


class GrpcServer:
    """A gRPC server for one model, set up as KServe's is (interceptors, message limits, grace).

    Args:
        port: Port to listen on (all interfaces, as KServe does; the pod's network fences it).
        servicer: The servicer to serve.
        max_message_bytes: Largest message received and sent (KServe's two flags).
        grace_period: Seconds in-flight calls may finish when stopping.
        log_calls: One log line per call (KServe's LoggingInterceptor), like the REST access log.
        gate: Checks each call's token before its handler runs (``case_serving.access_grpc``).
    """

    def __init__(
        self,
        port: int,
        servicer: CaseInferenceServicer,
        max_message_bytes: tuple[int, int],
        grace_period: float,
        log_calls: bool = False,
        gate: aio.ServerInterceptor | None = None,
    ) -> None:
        self.port = port
        self.servicer = servicer
        self.max_receive, self.max_send = max_message_bytes
        self.grace_period = grace_period
        logging_interceptors = (LoggingInterceptor(),) if log_calls else ()
        checking = (gate,) if gate is not None else ()
        self.interceptors = (*logging_interceptors, *checking, ExceptionToStatusInterceptor())
        self.server: aio.Server | None = None
        #: True once the port is bound and calls are served: readiness waits for it, since the
        #: REST server can be up a moment before a failed gRPC bind ends the process.
        self.serving = False

    async def start(self) -> None:
        """Serve until stopped."""
        self.server = aio.server(
            futures.ThreadPoolExecutor(max_workers=1),
            interceptors=self.interceptors,
            options=[
                ("grpc.max_receive_message_length", self.max_receive),
                ("grpc.max_send_message_length", self.max_send),
                # gRPC sets SO_REUSEPORT by default: a second server on a taken port would start
                # and silently share it (the kernel splits the calls). Without it the bind fails
                # and the service exits, so a taken port is seen (tests/dev/test_processes.py).
                ("grpc.so_reuseport", 0),
            ],
        )
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.servicer, self.server)
        self.server.add_insecure_port(f"[::]:{self.port}")
        await self.server.start()
        self.serving = True
        await self.server.wait_for_termination()

    async def stop(self) -> None:
        """Stop accepting calls; let in-flight ones finish within the grace period."""
        if self.server is not None:
            await self.server.stop(grace=self.grace_period)
