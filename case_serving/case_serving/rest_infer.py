"""The V2 REST ``infer`` route of our model, without KServe's per-request REST overhead.

KServe 0.21 parses the body into a pydantic ``InferenceRequest``, copies it into an
``InferRequest``, validates the response dict back into a pydantic model and FastAPI then runs
``jsonable_encoder`` over it: about a millisecond per request, more than our text steps cost
(``make bench`` measured it). This route reads the body with orjson straight into the
``InferRequest`` our model takes, runs the same ``Model.__call__`` lifecycle
(preprocess/validate/predict/postprocess, metrics included) and writes the response with orjson.
Errors are raised as KServe's own exceptions, so the app's handlers answer them exactly as on
KServe's route (400/404/503, ``{"error": ...}``).

It serves only ``POST /v2/models/<our name>/infer``; everything else (the versioned path,
metadata, health, other model names) stays on KServe's routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI
from kserve import Model
from kserve.errors import InvalidInput, ModelNotReady
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse, RequestedOutput, to_http_parameters
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from case_serving.json_body import json_object
from case_serving.limits import RequestLimits
from case_serving.logs import REQUEST_ID_HEADER
from case_serving.refusals import shown
from case_serving.tensors import check_element_count, check_tensor_header, selected_outputs, split_bytes_elements

#: Header of the V2 binary tensor extension: the JSON part's length, binary tensors after it.
BINARY_HEADER = "inference-header-content-length"
_JSON_TYPES = ("application/json", "application/cloudevents+json")


_EXPECTED: dict[type, str] = {list: "a list", str: "a string", dict: "an object"}


class UnsupportedMediaType(InvalidInput):
    """A body that is neither JSON nor the V2 binary extension; answered 415 (see ``install``)."""


def _field(container: dict[str, Any], key: str, kind: type, where: str, required: bool = True) -> Any:
    value = container.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = _EXPECTED.get(kind, kind.__name__)
        raise InvalidInput(f"{where}{key}: must be {expected}" if key in container else f"{where}{key}: missing")
    return value


def _tensor(
    item: object, index: int, binary: bytes | None, offset: int, limits: RequestLimits
) -> tuple[InferInput, int]:
    """One input tensor: its header checked first, then its data (JSON list or binary part) taken."""
    where = f"inputs.{index}."
    if not isinstance(item, dict):
        raise InvalidInput(f"inputs.{index}: must be an object with name, datatype, shape and data")
    name = _field(item, "name", str, where)
    datatype = _field(item, "datatype", str, where)
    shape = _field(item, "shape", list, where)
    declared = check_tensor_header(name, datatype, shape, limits)
    parameters = _field(item, "parameters", dict, where, required=False) or {}
    size = parameters.get("binary_data_size")
    if binary is not None and "data" not in item and size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"{where}parameters.binary_data_size: {shown(size)} does not fit the binary body")
        data: list[Any] = split_bytes_elements(name, binary[offset : offset + size], declared)
        offset += size
    elif "data" not in item:
        raise InvalidInput(f"{where}data: missing")
    else:
        data = item["data"]
        if not isinstance(data, list):
            raise InvalidInput(f"input '{name}' data must be a list of strings")
        check_element_count(name, declared, len(data))
    return InferInput(name=name, shape=shape, datatype=datatype, data=data, parameters=parameters), offset


def decode_request(body: bytes, model_name: str, limits: RequestLimits, json_length: int | None = None) -> InferRequest:
    """Parse a V2 JSON body (optionally followed by binary tensors) into an ``InferRequest``.

    The envelope, the count of inputs, the request id and each tensor's header and element count
    are checked before the next part is looked at (``case_serving.limits``); the elements themselves
    are decoded by the model's strict decoding (``case_serving.tensors.named_inputs``).
    """
    head, binary = (body, None) if json_length is None else (body[:json_length], body[json_length:])
    document = json_object(head, InvalidInput, "a JSON object with 'inputs'")
    items = _field(document, "inputs", list, "")
    limits.check_input_count(len(items))
    request_id = _field(document, "id", str, "", required=False)
    limits.check_request_id(request_id)
    parameters = _field(document, "parameters", dict, "", required=False)
    outputs = _requested_outputs(document, limits)
    tensors, offset = [], 0
    for index, item in enumerate(items):
        tensor, offset = _tensor(item, index, binary, offset, limits)
        tensors.append(tensor)
    return InferRequest(
        model_name=model_name,
        infer_inputs=tensors,
        request_id=request_id,
        parameters=parameters,
        request_outputs=[RequestedOutput(name) for name in outputs] or None,
    )


def _requested_outputs(document: dict[str, Any], limits: RequestLimits) -> list[str]:
    """The names of the outputs the request asks for ([] for all of them), checked."""
    items = _field(document, "outputs", list, "", required=False) or []
    limits.check_output_count(len(items))  # a long list is refused before it is read
    names = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"outputs.{index}: must be an object with a name")
        names.append(_field(item, "name", str, f"outputs.{index}."))
    limits.check_requested_outputs(names)
    return names


def _json_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get(BINARY_HEADER)
    if value is None:
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _JSON_TYPES:
            raise UnsupportedMediaType(
                f"unsupported Content-Type {media or '(none)'!r}: send application/json "
                f"(or the V2 binary extension with the {BINARY_HEADER} header)"
            )
        return None
    if not value.isdigit():
        raise InvalidInput(f"{BINARY_HEADER} must be a byte count, got {value!r}")
    return int(value)


def check_headers(model: Model, limits: RequestLimits, headers: Mapping[str, str]) -> int | None:
    """What is checked before the body is read: its media type, the request id header, the
    model's readiness. Returns the length of the JSON part (binary extension), or None."""
    json_length = _json_length(headers)
    limits.check_request_id(headers.get(REQUEST_ID_HEADER), f"{REQUEST_ID_HEADER} header")
    if not model.ready:
        raise ModelNotReady(model.name)
    return json_length


def encode_response(response: InferResponse, request: InferRequest) -> bytes:
    """The V2 JSON body of ``response``, serialised once by orjson: the outputs the request asked
    for (all when it named none); ``model_version`` only when there is one (never ``null``).

    ``InferResponse.to_rest`` round-trips every list output through numpy first; our outputs are
    already plain lists (``case_serving.tensors``), so they go out as they are.
    """
    outputs = []
    for output in selected_outputs(response, request):
        item = {"name": output.name, "shape": output.shape, "datatype": output.datatype, "data": output.data}
        if output.parameters:
            item["parameters"] = to_http_parameters(output.parameters)
        outputs.append(item)
    body: dict[str, Any] = {"id": response.id, "model_name": response.model_name}
    if response.model_version:
        body["model_version"] = response.model_version
    body["outputs"] = outputs
    if response.parameters:
        body["parameters"] = to_http_parameters(response.parameters)
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


async def answer(
    model: Model, limits: RequestLimits, headers: dict[str, str], body: bytes, json_length: int | None
) -> tuple[bytes, dict[str, str]]:
    """Decode ``body``, run the model's KServe lifecycle, encode: the JSON answer and the response
    headers the model adds. Refusals are raised as KServe's exceptions (the app's handlers answer)."""
    infer_request = decode_request(body, model.name, limits, json_length)
    response, extra = await model(infer_request, headers=headers)
    extra.pop("content-length", None)
    extra.pop("content-type", None)
    return encode_response(response, infer_request), extra


def infer_endpoint(model: Model, limits: RequestLimits) -> Callable[[Request], Awaitable[Response]]:
    """The route handler for ``model`` inside the FastAPI app (its OpenAPI document and in-process
    callers); a served request reaches :mod:`case_serving.infer_front` first, which answers alike."""

    async def infer(request: Request) -> Response:
        headers = dict(request.headers)
        json_length = check_headers(model, limits, headers)
        body, extra = await answer(model, limits, headers, await request.body(), json_length)
        return Response(body, headers=extra, media_type="application/json")

    return infer


async def _unsupported_media_type(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=415)


def install(app: FastAPI, model: Model, limits: RequestLimits) -> None:
    """Serve ``model``'s V2 infer route ahead of KServe's (which stays for everything else)."""
    route = Route(f"/v2/models/{model.name}/infer", infer_endpoint(model, limits), methods=["POST"])
    app.router.routes.insert(0, route)
    app.add_exception_handler(UnsupportedMediaType, _unsupported_media_type)
