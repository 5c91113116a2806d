"""V2 error bodies for requests KServe's REST layer rejects before our code sees them.

KServe validates the JSON body with pydantic and FastAPI answers such failures with 422 and
``{"detail": [...]}``; the V2 protocol (and the CRM) expect ``{"error": "..."}``. These handlers
answer 400 with one line naming the problem, and give Starlette's own refusals (an unknown path,
a body it cannot parse, a wrong method) the same V2 shape with their status. A service's own
:class:`case_serving.refusals.Refusal` is answered here too, with the status its class carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
from starlette.exceptions import HTTPException

from case_serving.refusals import NAMED_OFFENDERS, SHOWN_CHARS, Refusal

#: Characters shown of one validation message.
MESSAGE_CHARS = 120


def describe(errors: Sequence[Any]) -> str:
    """One line naming the problems of pydantic's ``errors()`` (a few, then how many more)."""
    problems = []
    for item in errors:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "InferenceRequest")]
        if location[:1] == ["bytes"]:  # the alternative "raw bytes body" branch of KServe's model
            continue
        # The location can hold a client's keys (cut short); the message is pydantic's own, from
        # the schema (a few words; cut at a bound all the same).
        where = ".".join(location)[:SHOWN_CHARS]
        message = str(item.get("msg", "invalid"))[:MESSAGE_CHARS]
        problems.append(f"{where}: {message}" if where else message)
    distinct = list(dict.fromkeys(problems))
    named = "; ".join(distinct[:NAMED_OFFENDERS])
    more = f"; and {len(distinct) - NAMED_OFFENDERS} more" if len(distinct) > NAMED_OFFENDERS else ""
    return "invalid request: " + ((named + more) or "malformed body")


async def _validation_error(_: Request, error: Exception) -> ORJSONResponse:
    if not isinstance(error, RequestValidationError):  # registered for that class only
        raise error
    return ORJSONResponse(status_code=400, content={"error": describe(error.errors())})


async def _http_error(_: Request, error: Exception) -> ORJSONResponse:
    if not isinstance(error, HTTPException):  # registered for that class only
        raise error
    return ORJSONResponse(status_code=error.status_code, content={"error": str(error.detail)}, headers=error.headers)


async def _refusal(_: Request, error: Exception) -> ORJSONResponse:
    if not isinstance(error, Refusal):  # registered for that class only
        raise error
    return ORJSONResponse(status_code=error.status, content={"error": str(error)}, headers=error.headers)


def install(app: FastAPI) -> None:
    """Answer ``app``'s refusals as V2 errors (``{"error": ...}``): FastAPI's and Starlette's own
    (400 for invalid bodies), and every :class:`case_serving.refusals.Refusal` with its status."""
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
