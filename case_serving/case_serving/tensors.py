"""Strict decoding of V2 string tensors, and encoding of the outputs.

Everything the CRM can get wrong (too many inputs, a missing input, a wrong datatype, a shape that
does not match the data, nested data, bytes that are not UTF-8, a batch over the limit, an id too
long) raises KServe's ``InvalidInput`` with a message naming the problem, which KServe answers
with 400 and ``{"error": ...}``. Nothing here raises anything else on bad input. The REST and gRPC
decoders call :func:`check_tensor_header` before they materialise a tensor's data, and
:func:`split_bytes_elements` stops at the declared count, so no refusal comes after the work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from case_serving.identifiers import unstorable
from case_serving.limits import RequestLimits
from case_serving.refusals import name_offenders, shown
from case_serving.schema import CASE_ID, EXPLAIN_PARAMETER, EXPLANATION, TOP_K

_LENGTH_PREFIX = 4  # V2 binary BYTES: each element is a 4-byte little-endian length, then the bytes


def check_tensor_header(name: object, datatype: object, shape: object, limits: RequestLimits) -> int:
    """Check what a tensor declares before its data is touched; return its element count.

    Raises:
        InvalidInput: unknown name, datatype other than BYTES, shape other than [N], N over the limit.
    """
    if name not in limits.inputs:
        raise InvalidInput(f"unknown input {shown(name)}; expected {list(limits.inputs)}")
    if datatype != "BYTES":
        raise InvalidInput(f"input '{name}' must have datatype BYTES, got {shown(datatype)}")
    dims = list(shape) if isinstance(shape, list | tuple) else None
    if dims is not None and len(dims) == 1 and (not isinstance(dims[0], int) or isinstance(dims[0], bool)):
        raise InvalidInput(f"input '{name}' shape must be a list of integers, got {shown(shape)}")
    if dims is None or len(dims) != 1 or dims[0] < 0:
        raise InvalidInput(f"input '{name}' must have shape [N], got {shown(shape)}")
    limits.check_cases(str(name), dims[0])
    return int(dims[0])


def check_element_count(name: str, declared: int, count: int) -> None:
    """The data holds exactly the declared number of elements."""
    if count != declared:
        raise InvalidInput(f"input '{name}' has shape [{declared}] but {count} elements of data")


def split_bytes_elements(name: str, raw: bytes, declared: int) -> list[bytes]:
    """Split a binary BYTES tensor into its elements, refusing it as soon as it holds more than
    ``declared`` elements or an element runs past the end."""
    elements: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if len(elements) == declared:
            raise InvalidInput(f"input '{name}' has shape [{declared}] but more elements of binary data")
        size = int.from_bytes(raw[offset : offset + _LENGTH_PREFIX], "little")
        start, end = offset + _LENGTH_PREFIX, offset + _LENGTH_PREFIX + size
        if start > len(raw) or end > len(raw):
            raise InvalidInput(f"binary BYTES tensor '{name}' is malformed: element {len(elements)} runs past the end")
        elements.append(raw[start:end])
        offset = end
    check_element_count(name, declared, len(elements))
    return elements


def _as_text(name: str, value: object, index: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"input '{name}' element {index} is not valid UTF-8: {error.reason}") from error
    raise InvalidInput(f"input '{name}' element {index} must be a string, got {type(value).__name__}")


def string_tensor(name: str, data: object, declared: int) -> list[str]:
    """Decode the data of a BYTES tensor of shape [declared] into strings, or raise ``InvalidInput``."""
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if not isinstance(data, list):
        raise InvalidInput(f"input '{name}' data must be a list of strings")
    check_element_count(name, declared, len(data))
    return [_as_text(name, value, i) for i, value in enumerate(data)]


def named_inputs(
    request: InferRequest, limits: RequestLimits, required: Sequence[str] = ("text",)
) -> dict[str, list[str]]:
    """Decode the request's string inputs by name; refuse missing, unknown and duplicate names.

    Every tensor's header is checked before any tensor's data is decoded; ``case_id`` values are
    checked for length as they are decoded.
    """
    inputs = request.inputs or []
    limits.check_input_count(len(inputs))
    names = [tensor.name for tensor in inputs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"duplicate input names {name_offenders(duplicates)}")
    declared = {
        tensor.name: check_tensor_header(tensor.name, tensor.datatype, tensor.shape, limits) for tensor in inputs
    }
    missing = [name for name in required if name not in names]
    if missing:
        raise InvalidInput(f"missing required input(s) {missing}")
    decoded = {tensor.name: string_tensor(tensor.name, tensor.data, declared[tensor.name]) for tensor in inputs}
    too_long = [value for value in decoded.get(CASE_ID, []) if len(value) > limits.max_case_id_chars]
    if too_long:
        raise InvalidInput(
            f"{len(too_long)} case_id value(s) longer than {limits.max_case_id_chars} characters: "
            f"{name_offenders(too_long)}"
        )
    unkept = [(value, reason) for value in decoded.get(CASE_ID, []) if (reason := unstorable(value))]
    if unkept:  # the answer would be logged under an id no store keeps: refused before any work
        raise InvalidInput(f"{len(unkept)} case_id value(s) no store can keep: the first {unkept[0][1]}")
    return decoded


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


def requested_names(request: InferRequest) -> set[str]:
    """The outputs a request asks for by name; empty when it asks for all of them."""
    return {output.name for output in request.request_outputs or []}


def selected_outputs(response: InferResponse, request: InferRequest) -> list[InferOutput]:
    """The response's outputs the request asked for (every one when it named none), in model order."""
    wanted = requested_names(request)
    return [output for output in response.outputs if not wanted or output.name in wanted]


def wants_explanation(request: InferRequest) -> bool:
    """Whether the request asks for the explanation: by the ``explain`` parameter (REST bool or
    string, gRPC parameter) or by naming the output."""
    if EXPLANATION in requested_names(request):
        return True
    value = (request.parameters or {}).get(EXPLAIN_PARAMETER, False)
    if hasattr(value, "bool_param"):  # a gRPC InferParameter
        value = value.bool_param or value.string_param.lower() in ("true", "1")
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
