"""Schemathesis against the running services' OpenAPI documents: every operation, with schema-valid
and schema-violating requests; no 5xx, only documented statuses, bodies and content types.

Schema-valid bodies are often still not valid V2 requests for this model (a FP32 tensor named
``foo``), so the check that they are accepted is left out: the services answer 400 and say why.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.support.v2 import MODEL, infer, infer_body, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


@pytest.fixture(scope="module", params=["transformer", "predictor"])
def service_url(request, stack) -> str:
    return stack.transformer_url if request.param == "transformer" else stack.predictor_url


def _operations(service_url: str) -> list:
    loaded = schemathesis.openapi.from_url(f"{service_url}/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


# Schemathesis' own pytest plugin does not run under pytest 9; its strategies do, under Hypothesis.
def test_service_keeps_its_openapi_contract(service_url, reliability, request):
    operations = _operations(service_url)
    assert len(operations) >= 8
    cases = st.one_of(
        operation.as_strategy(mode, path_parameters=names)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        # Half the cases address our model, so the fuzzing reaches it, half any name.
        for names in ([{"model_name": MODEL}, None] if "{model_name}" in operation.path else [None])
    )

    statuses: Counter[int] = Counter()

    @given(cases)
    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def keeps_contract(case) -> None:
        statuses[case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=10).status_code] += 1

    keeps_contract()
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
