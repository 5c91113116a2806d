"""``GET /v2/models/<name>/labels``: the version served here and the labels it answers with.

V2 model metadata names a model's tensors, not the values its label output takes. The feedback
service needs those values: it accepts an agent's correction only with a label some served
version has (a canary may bring a label production lacks), and a prediction event only from a
version really served. So each server says them here, beside the metadata, as Triton's
``/v2/models/<name>/config`` extension does. The route carries no case data and is open like the
metadata; a versioned path (``/v2/models/<name>/versions/<v>/labels``) reaches it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field

from case_serving.openapi import ERROR

#: Where a server says its labels, for a model name.
LABELS_PATH = "/v2/models/{name}/labels"


class ServedLabels(BaseModel):
    """What the route answers: the model, the version served here, and its labels."""

    name: str
    version: str = Field(description="The model version this server answers with.")
    labels: list[str] = Field(description="Every label that version's classifier can answer.")


def install(
    app: FastAPI,
    name: str,
    version: Callable[[], str | None],
    labels: Callable[[], Sequence[str] | None],
) -> None:
    """Add the route for model ``name`` to ``app``; ``version`` and ``labels`` are read per call.
    A server without them (a transformer run from a source tree, with no model wheel installed)
    answers 404: it has none to show, and its predictor is the one to ask."""

    def served_labels() -> ORJSONResponse:
        """The version served here and the labels it answers with."""
        served, known = version(), labels()
        if not served or known is None:
            return ORJSONResponse(
                status_code=404,
                content={"error": f"no labels of model {name!r} here (no model wheel installed): ask its predictor"},
            )
        return ORJSONResponse({"name": name, "version": served, "labels": list(known)})

    app.add_api_route(
        LABELS_PATH.format(name=name),
        served_labels,
        methods=["GET"],
        response_model=ServedLabels,
        responses={404: {"description": "No model wheel here.", "content": {"application/json": {"schema": ERROR}}}},
        summary="Served version and labels",
    )
