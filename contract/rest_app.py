"""What both services add to KServe's FastAPI app: V2 errors, a body limit, the lean infer route."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse
from kserve import Model
from starlette.routing import Route
from timing_asgi import TimingMiddleware

from contract import http_errors, openapi, repository, rest_infer
from contract.body_limit import BodyLimitMiddleware
from contract.limits import SHOWN_CHARS, RequestLimits
from contract.versions import VersionlessMiddleware


async def _v1_not_served(request: Request) -> ORJSONResponse:
    """KServe's V1 predict/explain hand our V2 models a V1 body, which ended in a 500."""
    name = request.path_params["name"].split(":", 1)[0][:SHOWN_CHARS]
    return ORJSONResponse(
        status_code=404,
        content={"error": f"the V1 protocol is not served: use POST /v2/models/{name}/infer"},
    )


def _without_unread_timings(app: FastAPI) -> None:
    """Keep KServe from adding ``TimingMiddleware`` when nobody reads what it measures.

    KServe adds it to every app; its only output is ``kserve.trace`` INFO lines, which are silenced
    unless the log level is DEBUG (the Prometheus histograms hold the same figures). Measuring
    CPU time twice per request still cost 5% of the transformer's CPU under load (py-spy).
    """
    add = app.add_middleware

    def add_middleware(middleware: type, *args: object, **kwargs: object) -> None:
        if middleware is TimingMiddleware and not logging.getLogger("kserve.trace").isEnabledFor(logging.INFO):
            return
        add(middleware, *args, **kwargs)

    app.add_middleware = add_middleware  # type: ignore[method-assign]


def prepare(app: FastAPI, model: Model, limits: RequestLimits, max_body_bytes: int) -> None:
    """Install our REST pieces on ``app`` before KServe's ``ModelServer`` adds its routes."""
    _without_unread_timings(app)
    http_errors.install(app)
    repository.install(app)
    openapi.install(app)
    rest_infer.install(app, model, limits)
    app.router.routes.insert(0, Route("/v1/models/{name:path}", _v1_not_served, methods=["POST"]))
    app.add_middleware(VersionlessMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
