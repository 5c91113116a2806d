"""Who may do what on the real feedback service: each route against each role, an agent's
corrections its own, the CRM's recorded beside the agent, the audit trail an erasure keeps, and
the rates per principal."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.auth import bearer, forged
from tests.support.events import event
from tests.support.feedback import start_feedback

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feedback")]

ROLES = ("crm", "agent", "service", "privacy", "reader")


def _calls(ids: str, version: str) -> dict[str, tuple[str, str, dict]]:
    """Each protected route as (method, path, request keywords), on case ids of the test's own."""
    return {
        "predictions": ("POST", "/v1/predictions", {"json": {"predictions": [event(f"{ids}-p", version)]}}),
        "corrections": (
            "POST",
            "/v1/corrections",
            {"json": {"corrections": [{"case_id": f"{ids}-c", "label": "display", "agent_id": "agent-1"}]}},
        ),
        "quality": ("GET", "/v1/quality", {"params": {"model_version": version}}),
        "erase": ("DELETE", f"/v1/cases/{ids}-e", {}),
        "audit": ("GET", "/v1/audit", {"params": {"case_id": f"{ids}-c"}}),
    }


#: Route -> the roles that may call it (the defaults); every other role gets 403.
ALLOWED = {
    "predictions": {"service"},
    "corrections": {"crm", "agent"},
    "quality": {"reader"},
    "erase": {"privacy"},
    "audit": {"privacy"},
}


def test_each_route_answers_only_its_roles(feedback):
    ids, version = f"C-{uuid.uuid4().hex[:8]}", f"0.{uuid.uuid4().int % 10**8}.0"
    seen = {}
    for route, (method, path, keywords) in _calls(ids, version).items():
        for role in (None, *ROLES):
            headers = bearer(role) if role else {}
            answer = httpx.request(method, feedback.url + path, headers=headers, timeout=10, **keywords)
            seen[route, role] = answer.status_code
            if answer.status_code == 401:
                assert answer.headers["www-authenticate"] == "Bearer"
            if answer.status_code in (401, 403):
                assert set(answer.json()) == {"error"}
    expected = {
        (route, role): 401 if role is None else 200 if role in ALLOWED[route] else 403
        for route in ALLOWED
        for role in (None, *ROLES)
    }
    assert seen == expected


@pytest.mark.parametrize("forgery", sorted(forged()))
def test_a_forged_token_is_401_on_every_route(feedback, forgery):
    token = forged()[forgery]
    for method, path, keywords in _calls("C-forged", "0.0.1").values():
        started = time.monotonic()
        answer = httpx.request(method, feedback.url + path, headers={"Authorization": f"Bearer {token}"}, **keywords)
        assert answer.status_code == 401, (forgery, path, answer.text)
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert time.monotonic() - started < 5


def _correct(feedback, role: str, subject: str, **correction) -> httpx.Response:
    body = {"corrections": [{"label": "display", **correction}]}
    return httpx.post(f"{feedback.url}/v1/corrections", json=body, headers=bearer(role, subject), timeout=10)


def _audit(feedback, case_id: str) -> list[dict]:
    answer = httpx.get(f"{feedback.url}/v1/audit", params={"case_id": case_id}, headers=bearer("privacy"), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["records"]


def test_an_agents_corrections_are_its_own(feedback):
    case = f"C-{uuid.uuid4().hex[:8]}"
    assert _correct(feedback, "agent", "agent-42", case_id=case).status_code == 200
    assert _correct(feedback, "agent", "agent-42", case_id=case, agent_id="agent-42").status_code == 200
    posing = _correct(feedback, "agent", "agent-42", case_id=case, agent_id="agent-7")
    assert posing.status_code == 403
    assert posing.json() == {"error": "an agent may submit only its own corrections"}
    assert [(r["principal"], r["action"]) for r in _audit(feedback, case)] == [("agent-42", "correct")] * 2


def test_the_crm_names_the_agent_and_both_are_recorded(feedback, labels):
    from sqlalchemy import create_engine, text

    case = f"C-{uuid.uuid4().hex[:8]}"
    nameless = _correct(feedback, "crm", "crm-eu", case_id=case)
    assert nameless.status_code == 400
    assert "agent_id" in nameless.json()["error"]
    assert _correct(feedback, "crm", "crm-eu", case_id=case, agent_id="agent-9").status_code == 200
    engine = create_engine(feedback.store_url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT agent_id, principal FROM corrections WHERE case_id = :c"), {"c": case}
        ).one()
    engine.dispose()
    assert tuple(stored) == ("agent-9", "crm-eu")
    assert [(r["principal"], r["action"]) for r in _audit(feedback, case)] == [("crm-eu", "correct")]


def test_an_erasure_removes_the_case_and_keeps_its_audit_trail(feedback):
    case = f"C-{uuid.uuid4().hex[:8]}"
    version = f"0.{uuid.uuid4().int % 10**8}.0"
    assert feedback.log([event(case, version)]).status_code == 200
    assert _correct(feedback, "agent", "agent-5", case_id=case).status_code == 200
    started = time.time()
    erased = httpx.delete(f"{feedback.url}/v1/cases/{case}", headers=bearer("privacy", "dpo-1"), timeout=10)
    assert erased.json() == {"case_id": case, "predictions_deleted": 1, "corrections_deleted": 1}
    records = _audit(feedback, case)
    assert [(r["principal"], r["action"], r["case_id"]) for r in records] == [
        ("agent-5", "correct", case),
        ("dpo-1", "erase", case),
    ]
    assert started - 5 <= records[-1]["at"] <= time.time() + 5
    assert not any("model saw" in str(record) for record in records), "no text in the audit trail"
    assert feedback.quality(version) is None, "the version logged nothing else"


def test_limits_answer_429_with_retry_after_per_principal(labels, tmp_path):
    service = start_feedback(
        f"sqlite:///{tmp_path / 'f.sqlite'}", labels, tmp_path, "--auth-rate-limits=agent=2,crm=50"
    )
    try:
        agent = [_correct(service, "agent", "agent-loop", case_id=f"C-loop-{n}") for n in range(12)]
        codes = [answer.status_code for answer in agent]
        assert 429 in codes
        assert codes[:4] == [200] * 4, "the burst (2 s of the rate) passes"
        limited = next(answer for answer in agent if answer.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        # The agent's loop emptied its own bucket only: the CRM's calls pass meanwhile.
        crm = [_correct(service, "crm", "crm-1", case_id=f"C-crm-{n}", agent_id="a-1") for n in range(10)]
        assert [answer.status_code for answer in crm] == [200] * 10
    finally:
        service.process.stop()
