"""Building V2 requests and reading V2 responses in tests."""

from __future__ import annotations

import httpx

from tests.support.auth import bearer

MODEL = "case-classifier"


def infer_body(texts: list[str], case_ids: list[str] | None = None, request_id: str = "req-1", **parameters) -> dict:
    """A V2 JSON request for the transformer's contract."""
    inputs = [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]
    if case_ids is not None:
        inputs.append({"name": "case_id", "datatype": "BYTES", "shape": [len(case_ids)], "data": case_ids})
    body = {"id": request_id, "inputs": inputs}
    if parameters:
        body["parameters"] = parameters
    return body


def outputs(response: httpx.Response) -> dict[str, list]:
    """Output name -> data, from a 200 V2 JSON response."""
    assert response.status_code == 200, response.text
    return {output["name"]: output["data"] for output in response.json()["outputs"]}


def infer(base_url: str, body: dict, timeout: float = 10.0, role: str | None = "crm") -> httpx.Response:
    """POST a V2 JSON request to the model's infer endpoint, as ``role`` (None: no token)."""
    headers = bearer(role) if role else {}
    return httpx.post(f"{base_url}/v2/models/{MODEL}/infer", json=body, timeout=timeout, headers=headers)


def metric(base_url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of a Prometheus metric's samples (optionally only those with ``labels``) from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{base_url}/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total
