"""Strict decoding of V2 string tensors, and encoding of the outputs.

Everything the CRM can get wrong (a missing input, a wrong datatype, a shape that does not match
the data, nested data, bytes that are not UTF-8, a batch over the limit) raises KServe's
``InvalidInput`` with a message naming the problem, which KServe answers with 400 and
``{"error": ...}``. Nothing here raises anything else on bad input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest

from contract.schema import EXPLAIN_PARAMETER, TOP_K


def _flatten_raw(raw: bytes) -> list[bytes]:
    from kserve.protocol.infer_type import deserialize_bytes_tensor

    try:
        return list(deserialize_bytes_tensor(raw))
    except Exception as error:
        raise InvalidInput(f"binary BYTES tensor is malformed: {error}") from error


def _as_text(name: str, value: object, index: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"input '{name}' element {index} is not valid UTF-8: {error.reason}") from error
    raise InvalidInput(f"input '{name}' element {index} must be a string, got {type(value).__name__}")


def string_tensor(tensor: InferInput) -> list[str]:
    """Decode a 1-D BYTES tensor of shape [N] into N strings, or raise ``InvalidInput``."""
    name = tensor.name
    if tensor.datatype != "BYTES":
        raise InvalidInput(f"input '{name}' must have datatype BYTES, got {tensor.datatype}")
    shape = list(tensor.shape or [])
    if len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 0:
        raise InvalidInput(f"input '{name}' must have shape [N], got {shape}")
    raw = getattr(tensor, "_raw_data", None)
    data = _flatten_raw(raw) if raw is not None else tensor.data
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if not isinstance(data, list):
        raise InvalidInput(f"input '{name}' data must be a list of strings")
    if len(data) != shape[0]:
        raise InvalidInput(f"input '{name}' has shape [{shape[0]}] but {len(data)} elements of data")
    return [_as_text(name, value, i) for i, value in enumerate(data)]


def named_inputs(request: InferRequest, required: Sequence[str], optional: Sequence[str]) -> dict[str, list[str]]:
    """Decode the request's string inputs by name; refuse missing, unknown and duplicate names."""
    inputs = request.inputs or []
    names = [tensor.name for tensor in inputs]
    unknown = sorted(set(names) - set(required) - set(optional))
    if unknown:
        raise InvalidInput(f"unknown input(s) {unknown}; expected {list(required) + list(optional)}")
    if len(set(names)) != len(names):
        raise InvalidInput(f"duplicate input names in {names}")
    missing = [name for name in required if name not in names]
    if missing:
        raise InvalidInput(f"missing required input(s) {missing}")
    return {tensor.name: string_tensor(tensor) for tensor in inputs}


def check_batch_size(n: int, maximum: int) -> None:
    """Refuse a batch larger than ``maximum`` cases before any of it is processed."""
    if n > maximum:
        raise InvalidInput(f"batch of {n} cases exceeds the maximum of {maximum} per request")


def bytes_output(name: str, values: Sequence[str], shape: list[int] | None = None) -> InferOutput:
    """A BYTES output; ``shape`` defaults to [len(values)]."""
    return InferOutput(name=name, shape=shape or [len(values)], datatype="BYTES", data=list(values))


def fp32_output(name: str, values: np.ndarray) -> InferOutput:
    """An FP32 output with the array's shape."""
    array = np.asarray(values, dtype=np.float32)
    return InferOutput(name=name, shape=list(array.shape), datatype="FP32", data=array.ravel().tolist())


def top_k_outputs(
    labels_name: str, probabilities_name: str, labels: Sequence[Sequence[str]], probabilities: np.ndarray
) -> list[InferOutput]:
    """The [N, TOP_K] label and probability outputs."""
    n = len(labels)
    flat = [label for row in labels for label in row]
    return [
        bytes_output(labels_name, flat, [n, TOP_K]),
        fp32_output(probabilities_name, np.asarray(probabilities, dtype=np.float32).reshape(n, TOP_K)),
    ]


def wants_explanation(request: InferRequest) -> bool:
    """Whether the request's parameters ask for ``explain`` (REST bool/string, or gRPC parameter)."""
    value = (request.parameters or {}).get(EXPLAIN_PARAMETER, False)
    if hasattr(value, "bool_param"):  # a gRPC InferParameter
        value = value.bool_param or value.string_param.lower() in ("true", "1")
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
