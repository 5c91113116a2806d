"""The services' OpenAPI document, made to say what they really answer.

FastAPI derives KServe's document from its handlers: the infer body may be anything, failures are
422s with ``{"detail": ...}``, ``/metrics`` is JSON, and the V1 and repository routes are offered.
Our services answer V2 only, with ``{"error": ...}`` bodies and the statuses below, so the
document is rewritten once: clients can rely on it and Schemathesis checks the servers against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "minLength": 1}},
}
PARAMETERS = {"type": "object"}
SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 0}}
#: A V2 tensor, as a request input and as a response output alike.
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": SHAPE,
        "datatype": {"type": "string"},
        "parameters": PARAMETERS,
        "data": {"type": "array"},
    },
}
INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": PARAMETERS,
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
        "outputs": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
    },
}
INFER_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "parameters": PARAMETERS,
        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
    },
}
#: What the infer route answers besides 200, and why.
INFER_ERRORS = {
    "400": "The body is not a valid V2 request for this model (names the problem).",
    "404": "No model of that name.",
    "413": "The body is larger than the configured limit.",
    "415": "The content type is not JSON.",
    "503": "The model, or a service it depends on, is not ready.",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/V2Error"}, description)


def _served(path: str) -> bool:
    """V1 and the (sealed) repository extension are not part of what we serve."""
    return not path.startswith(("/v1/", "/v2/repository/"))


def refine(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's ``document`` of KServe's app into the contract we keep (see module doc)."""
    document["paths"] = {path: item for path, item in document["paths"].items() if _served(path)}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(
        V2Error=ERROR,
        V2Tensor=TENSOR,
        V2InferenceRequest=INFER_REQUEST,
        V2InferenceResponse=INFER_RESPONSE,
    )
    for path, item in document["paths"].items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:  # FastAPI's validation error: ours is a 400 with a V2 body
                del responses["422"]
                responses["400"] = _error("The request is malformed.")
            if "{model_name}" in path:
                responses.setdefault("404", _error("No model of that name."))
    infer = document["paths"]["/v2/models/{model_name}/infer"]["post"]
    infer["parameters"] = [p for p in infer.get("parameters", []) if p["in"] == "path"]
    infer["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V2InferenceRequest"}}},
    }
    infer["responses"] = {
        "200": _json({"$ref": "#/components/schemas/V2InferenceResponse"}, "The model's outputs."),
        **{status: _error(why) for status, why in INFER_ERRORS.items()},
    }
    metrics = document["paths"]["/metrics"]["get"]
    metrics["responses"]["200"] = {
        "description": "Prometheus metrics.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return document


def without_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's 422 becomes our 400 in every operation of a plain FastAPI service (not KServe's)
    whose refusals are installed by :func:`case_serving.http_errors.install`."""
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _json(ERROR, "The request is malformed (names the problem)."))
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    return document


def install(app: FastAPI, rewrite: Callable[[dict[str, Any]], dict[str, Any]] = refine) -> None:
    """Serve ``rewrite`` of ``app``'s document at ``/openapi.json`` (built once, on first request);
    by default the V2 contract (:func:`refine`)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    refined: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not refined:
            refined.update(rewrite(generate()))
        return refined

    app.openapi = openapi  # type: ignore[method-assign]
