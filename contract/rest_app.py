"""What both services add to KServe's FastAPI app: V2 errors, a body limit, the lean infer route."""

from __future__ import annotations

from fastapi import FastAPI
from kserve import Model

from contract import http_errors, rest_infer
from contract.body_limit import BodyLimitMiddleware


def prepare(app: FastAPI, model: Model, max_body_bytes: int) -> None:
    """Install our REST pieces on ``app`` before KServe's ``ModelServer`` adds its routes."""
    http_errors.install(app)
    rest_infer.install(app, model)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
