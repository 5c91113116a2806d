"""Schemathesis against the running services' OpenAPI documents: every operation, with schema-valid
and schema-violating requests; no 5xx, only documented statuses, bodies and content types.

Schema-valid bodies are often still not valid V2 requests for this model (a FP32 tensor named
``foo``), so the check that they are accepted is left out: the services answer 400 and say why.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.fuzz import fuzz, operations
from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


@pytest.fixture(scope="module", params=["transformer", "predictor"])
def service_url(request, stack) -> str:
    return stack.transformer_url if request.param == "transformer" else stack.predictor_url


def test_service_keeps_its_openapi_contract(service_url, reliability, request):
    assert len(operations(service_url)) >= 8
    # Half the cases address our model, so the fuzzing reaches it, half any name. Every call as the
    # CRM: the transformer's gate lets it through to the routes (the predictor ignores the token).
    statuses = fuzz(service_url, {"model_name": MODEL}, headers=bearer("crm"))
    assert statuses[200], statuses  # the fuzzing reached the model ...
    assert statuses[400], statuses  # ... and its refusals
    seen = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    reliability.record(
        "Fuzzing",
        f"Schemathesis: {request.node.callspec.params['service_url']} OpenAPI, all operations",
        sum(statuses.values()),
        f"no 5xx; documented statuses, bodies and types only ({seen})",
    )


def test_documents_say_what_the_services_answer(service_url):
    document = httpx.get(f"{service_url}/openapi.json").json()
    assert not [path for path in document["paths"] if path.startswith(("/v1/", "/v2/repository/"))]
    infer_responses = document["paths"]["/v2/models/{model_name}/infer"]["post"]["responses"]
    assert set(infer_responses) == {"200", "400", "404", "413", "415", "503"}
    assert "422" not in str(document["paths"])


def test_service_still_serves_after_fuzzing(stack):
    assert outputs(infer(stack.transformer_url, infer_body(["My laptop battery does not charge."])))["label"]
