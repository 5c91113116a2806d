"""What both services add to KServe's FastAPI app: V2 errors, a body limit, the lean infer route,
the labels route."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse
from kserve import Model
from starlette.routing import Route

from case_serving import http_errors, model_labels, openapi, repository, rest_infer
from case_serving.body_limit import BodyLimitMiddleware
from case_serving.limits import RequestLimits
from case_serving.refusals import SHOWN_CHARS
from case_serving.versions import VersionRoutes


async def _v1_not_served(request: Request) -> ORJSONResponse:
    """KServe's V1 predict/explain hand our V2 models a V1 body, which ended in a 500."""
    name = request.path_params["name"].split(":", 1)[0][:SHOWN_CHARS]
    return ORJSONResponse(
        status_code=404,
        content={"error": f"the V1 protocol is not served: use POST /v2/models/{name}/infer"},
    )


def prepare(
    app: FastAPI,
    model: Model,
    limits: RequestLimits,
    max_body_bytes: int,
    served_version: Callable[[], str | None],
    served_labels: Callable[[], Sequence[str] | None],
) -> None:
    """Install our REST pieces on ``app`` before KServe's ``ModelServer`` adds its routes."""
    http_errors.install(app)
    repository.install(app)
    openapi.install(app)
    rest_infer.install(app, model, limits)
    model_labels.install(app, model.name, served_version, served_labels)
    app.router.routes.insert(0, Route("/v1/models/{name:path}", _v1_not_served, methods=["POST"]))
    app.add_middleware(VersionRoutes, served_version=served_version)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
