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

from concurrent import futures

from grpc import ServicerContext, aio
from kserve import Model
from kserve.errors import InvalidInput, ModelNotFound
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor, LoggingInterceptor
from kserve.protocol.grpc.servicer import InferenceServicer
from kserve.protocol.infer_type import InferInput, InferRequest, RequestedOutput, to_http_parameters
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from kserve.utils.utils import to_headers

from case_serving.limits import RequestLimits
from case_serving.logs import REQUEST_ID_HEADER
from case_serving.tensors import check_element_count, check_tensor_header, split_bytes_elements


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
    outputs = [RequestedOutput(output.name) for output in request.outputs]
    return InferRequest(
        model_name=request.model_name,
        infer_inputs=inputs,
        request_id=request.id,
        parameters=request.parameters,
        request_outputs=outputs or None,
        model_version=request.model_version,
    )


class CaseInferenceServicer(InferenceServicer):
    """KServe's servicer; ``ModelInfer`` checks the request's shape before decoding it."""

    def __init__(
        self, data_plane: DataPlane, repository: ModelRepositoryExtension, model: Model, limits: RequestLimits
    ) -> None:
        super().__init__(data_plane, repository)
        self.plane = data_plane
        self.model = model
        self.limits = limits

    async def ModelInfer(self, request: pb.ModelInferRequest, context: ServicerContext) -> pb.ModelInferResponse:
        """Check, decode, run the model's lifecycle, encode."""
        if request.model_name != self.model.name:
            raise ModelNotFound(request.model_name)
        headers = to_headers(context)
        self.limits.check_request_id(headers.get(REQUEST_ID_HEADER), f"{REQUEST_ID_HEADER} metadata")
        infer_request = decode_grpc_request(request, self.limits)
        response, _ = await self.plane.infer(request=infer_request, headers=headers, model_name=request.model_name)
        return response.to_grpc()


class GrpcServer:
    """A gRPC server for one model, set up as KServe's is (interceptors, message limits, grace).

    Args:
        port: Port to listen on (all interfaces, as KServe does; the pod's network fences it).
        servicer: The servicer to serve.
        max_message_bytes: Largest message received and sent (KServe's two flags).
        grace_period: Seconds in-flight calls may finish when stopping.
        log_calls: One log line per call (KServe's LoggingInterceptor), like the REST access log.
    """

    def __init__(
        self,
        port: int,
        servicer: CaseInferenceServicer,
        max_message_bytes: tuple[int, int],
        grace_period: float,
        log_calls: bool = False,
    ) -> None:
        self.port = port
        self.servicer = servicer
        self.max_receive, self.max_send = max_message_bytes
        self.grace_period = grace_period
        self.interceptors = (
            (LoggingInterceptor(), ExceptionToStatusInterceptor()) if log_calls else (ExceptionToStatusInterceptor(),)
        )
        self.server: aio.Server | None = None

    async def start(self) -> None:
        """Serve until stopped."""
        self.server = aio.server(
            futures.ThreadPoolExecutor(max_workers=1),
            interceptors=self.interceptors,
            options=[
                ("grpc.max_receive_message_length", self.max_receive),
                ("grpc.max_send_message_length", self.max_send),
            ],
        )
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.servicer, self.server)
        self.server.add_insecure_port(f"[::]:{self.port}")
        await self.server.start()
        await self.server.wait_for_termination()

    async def stop(self) -> None:
        """Stop accepting calls; let in-flight ones finish within the grace period."""
        if self.server is not None:
            await self.server.stop(grace=self.grace_period)
