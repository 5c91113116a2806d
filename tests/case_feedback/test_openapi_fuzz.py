"""Schemathesis against the feedback service's OpenAPI document, as for the V2 services: every
operation, schema-valid and schema-violating requests; no 5xx, only documented answers."""

from __future__ import annotations

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.events import event
from tests.support.fuzz import fuzz, operations

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feedback")]
#: The role each protected operation wants (the probes and /metrics are open).
ROLES = {
    ("POST", "/v1/predictions"): "service",
    ("POST", "/v1/corrections"): "crm",
    ("GET", "/v1/quality"): "reader",
    ("DELETE", "/v1/cases/{case_id}"): "privacy",
    ("DELETE", "/v1/cases"): "privacy",
    ("GET", "/v1/audit"): "privacy",
}


def _token_of(method: str, path: str) -> dict[str, str]:
    """A token of the role the operation wants, so the fuzzing reaches the route behind the gate;
    of a subject of its own, so the fuzzing empties no rate bucket another test's caller uses."""
    role = ROLES.get((method, path))
    return bearer(role, f"fuzz-{role}") if role else {}


def test_feedback_service_keeps_its_openapi_contract(feedback, reliability, request):
    found = operations(feedback.url)
    assert {op.path for op in found} >= {"/v1/corrections", "/v1/predictions", "/v1/quality"}
    assert {(op.method.upper(), op.path) for op in found if op.path.startswith("/v1/")} <= set(ROLES)
    feedback.log([event("FUZZ-1", "9.9.9")])  # a case the fuzzing can address by name
    statuses = fuzz(feedback.url, {"case_id": "FUZZ-1"}, examples=400, headers=_token_of)
    assert statuses[200], statuses
    assert statuses[400], statuses
    assert not [status for status in statuses if status >= 500], statuses
    seen = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    store = request.node.callspec.params["feedback"]
    reliability.record(
        "Fuzzing",
        f"Schemathesis: feedback service OpenAPI ({store}), all operations",
        sum(statuses.values()),
        f"no 5xx; documented statuses, bodies and types only ({seen})",
    )
    assert httpx.get(f"{feedback.url}/readyz").status_code == 200


def test_document_names_every_refusal(feedback):
    document = httpx.get(f"{feedback.url}/openapi.json").json()
    corrections = document["paths"]["/v1/corrections"]["post"]["responses"]
    assert {"200", "400", "413", "503"} <= set(corrections)
    assert "422" not in str(document["paths"])
