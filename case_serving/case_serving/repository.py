"""The model repository extension, sealed: models are loaded once at start-up, never over the API.

KServe serves the repository extension (``POST /v2/repository/models/<name>/unload`` and the gRPC
``RepositoryModelUnload``) without authentication. Against our services one such call unloaded
the model for good (``load`` cannot bring back a model built from a verified artifact at start-up):
anyone who reaches the port could take the service down. A rollout replaces pods instead.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse
from grpc_interceptor.exceptions import PermissionDenied
from kserve.protocol.model_repository_extension import ModelRepositoryExtension

REFUSAL = "the model repository API is disabled: models are loaded at start-up and replaced by a rollout"


class RepositoryDisabled(PermissionDenied):
    """A load/unload request; KServe's gRPC interceptor answers PERMISSION_DENIED, REST 403."""


class SealedRepositoryExtension(ModelRepositoryExtension):
    """Lists models like KServe's extension; refuses to load or unload them."""

    async def load(self, model_name: str) -> None:
        """Refuse: see the module docstring."""
        raise RepositoryDisabled(REFUSAL)

    async def unload(self, model_name: str) -> None:
        """Refuse: see the module docstring."""
        raise RepositoryDisabled(REFUSAL)


async def _forbidden(_: Request, error: Exception) -> ORJSONResponse:
    return ORJSONResponse(status_code=403, content={"error": getattr(error, "details", str(error))})


def install(app: FastAPI) -> None:
    """Answer refused repository calls on ``app`` as V2 errors (403, ``{"error": ...}``)."""
    app.add_exception_handler(RepositoryDisabled, _forbidden)
