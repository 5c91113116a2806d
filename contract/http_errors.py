"""V2 error bodies for requests KServe's REST layer rejects before our code sees them.

KServe validates the JSON body with pydantic and FastAPI answers such failures with 422 and
``{"detail": [...]}``; the V2 protocol (and the CRM) expect ``{"error": "..."}``. This handler
answers 400 with one line naming the problem.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse


def _describe(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "InferenceRequest")]
        if location[:1] == ["bytes"]:  # the alternative "raw bytes body" branch of KServe's model
            continue
        where = ".".join(location)
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "invalid request: " + ("; ".join(dict.fromkeys(problems)) or "malformed body")


async def _validation_error(_: Request, error: RequestValidationError) -> ORJSONResponse:
    return ORJSONResponse(status_code=400, content={"error": _describe(error)})


def install(app: FastAPI) -> None:
    """Answer request-validation failures of ``app`` as V2 errors (400, ``{"error": ...}``)."""
    app.add_exception_handler(RequestValidationError, _validation_error)
