"""One request id in all three services' JSON logs; no case text in any of them."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.v2 import MODEL, infer_body

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


def _records(path) -> list[dict]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def test_request_id_reaches_predictor_and_language_service_and_texts_stay_out_of_logs(stack, reliability):
    request_id = f"trace-{uuid.uuid4().hex}"
    secret = f"Kasimir Zweistein-{uuid.uuid4().hex[:8]} reports the fan is loud and the laptop overheats"
    response = httpx.post(
        f"{stack.transformer_url}/v2/models/{MODEL}/infer",
        json=infer_body([secret], request_id="body-id"),
        headers={"x-request-id": request_id, **bearer()},
        timeout=10,
    )
    assert response.status_code == 200
    time.sleep(0.5)  # let the processes flush their log lines
    for name in ("transformer", "predictor", "language"):
        log = stack.processes[name].log_path
        assert any(record.get("request_id") == request_id for record in _records(log)), f"{name} lacks the id"
        assert "Zweistein" not in log.read_text(errors="replace"), f"{name} logged a case text"
    reliability.record(
        "Artifact and images",
        "customer text through all three services",
        3,
        "in no service log (logging texts is off by default)",
    )
