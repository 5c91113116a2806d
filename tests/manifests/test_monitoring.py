"""What operators watch: the alert rules and the dashboard, checked by Prometheus' own tools and
against a real Prometheus (Debian's) scraping a chain of the local stack whose faults are
provoked one by one: each alert's expression is empty while its condition is absent and returns
a series once it is provoked; every dashboard query parses and returns data."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from dev.stack import Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.manifests.test_manifests import MANIFESTS
from tests.support.auth import bearer, write_token
from tests.support.prometheus import query, running, until
from tests.support.v2 import infer, infer_body

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
PROMTOOL = shutil.which("promtool")
MONITORING = MANIFESTS / "base" / "monitoring"
BATTERY = "My laptop battery does not charge any more since yesterday, number {}."


def _rules() -> dict:
    """The PrometheusRule's spec: a plain Prometheus rules file."""
    return yaml.safe_load((MONITORING / "alerts.yaml").read_text())["spec"]


def _alerts() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for group in _rules()["groups"] for rule in group["rules"]}


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) missing: make tools installs it")
def test_promtool_accepts_the_rules(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(_rules()))
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "sum(("}]}]}))
    assert subprocess.run([PROMTOOL, "check", "rules", str(broken)], capture_output=True).returncode != 0


def test_every_alert_has_a_runbook_and_a_severity():
    for group in _rules()["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
            assert len(rule["annotations"]["runbook"].split()) >= 20, rule["alert"]


@pytest.fixture(scope="module")
def chain(stack, artifact_dir, tmp_path_factory):
    """A chain of its own (its faults must not reach the shared stack): language service, feedback
    service, predictor and a transformer with a 0.99 confidence floor, a breaker that stays open
    once open, and a prediction-log buffer of 20."""
    store = tmp_path_factory.mktemp("monitoring-store") / "feedback.sqlite"
    # The prediction log presents a service token, as on the cluster.
    service_token = tmp_path_factory.mktemp("monitoring-token") / "token"
    write_token(service_token, ["service"], "monitored-transformer", 3 * 3600)
    args = (
        "--confidence-threshold=0.99",
        "--breaker-reset-seconds=600",
        "--feedback-buffer-events=20",
    )
    chain = Stack(
        ports=Ports.any(),
        model_dir=str(artifact_dir),
        feedback_store=f"sqlite:///{store}",
        transformer_args=args,
        service_token_file=str(service_token),
        # The test polls the quality figures faster than a reader's default rate.
        feedback_args=("--auth-rate-limits=crm=1000,service=1000,reader=1000",),
        env={
            **SOURCE_ENV,
            "FEEDBACK_LABELS": stack.stack.env.get("FEEDBACK_LABELS", ""),
            "FEEDBACK_QUALITY_CACHE_SECONDS": "0",
        },
    )
    logs = tmp_path_factory.mktemp("monitoring-logs")
    running = {}
    try:
        for service in chain.services():
            chain, running[service.name] = start_service(
                chain, service.name, logs, lambda s: dataclasses.replace(s, name=f"monitored-{s.name}")
            )
        yield chain, running
    finally:
        for process in reversed(running.values()):
            process.stop()


@pytest.fixture(scope="module")
def prometheus(chain, tmp_path_factory):
    """A real Prometheus evaluating the alert rules, scraping the chain's transformer, predictor
    and feedback service; its URL."""
    stack, _ = chain
    root = tmp_path_factory.mktemp("prometheus-rules")
    (root / "rules.yml").write_text(yaml.safe_dump(_rules()))
    targets = [
        stack.url(port).removeprefix("http://")
        for port in (stack.ports.http, stack.ports.predictor_http, stack.ports.feedback)
    ]
    with running(root, targets, [root / "rules.yml"]) as url:
        yield url


def _fires(url: str, alert: str) -> bool:
    return bool(query(url, _alerts()[alert]))


def _send(base: str, n: int, tag: str, texts: list[str] | None = None) -> list[int]:
    statuses = []
    for i in range(n):
        body = infer_body(texts or [BATTERY.format(f"{tag}-{i}")], [f"{tag}-{i}"], request_id=f"{tag}-{i}")
        statuses.append(infer(base, body).status_code)
    return statuses


def test_every_dashboard_query_parses_and_returns_data(chain, prometheus):
    """Run first, while every service of the chain is up."""
    stack, _ = chain
    _send(stack.url(stack.ports.http), 5, "dashboard")
    feedback = stack.url(stack.ports.feedback)
    until(lambda: bool(httpx.get(f"{feedback}/v1/quality", headers=bearer("reader")).json()["model_versions"]))
    correction = {"corrections": [{"case_id": "dashboard-0", "label": "display", "agent_id": "a-1"}]}
    assert httpx.post(f"{feedback}/v1/corrections", json=correction, headers=bearer("crm")).status_code == 200
    queries = _dashboard_queries()
    assert len(queries) >= 10
    for expr in queries:
        expr = expr.replace("$__rate_interval", "1m")
        until(lambda e=expr: bool(query(prometheus, e)))


def test_each_alert_fires_when_its_condition_is_provoked_and_not_before(chain, prometheus, reliability):
    stack, running = chain
    base = stack.url(stack.ports.http)
    # Ordinary traffic: every case below the 0.99 floor, labels far from the training mix.
    assert set(_send(base, 40, "calm")) == {200}
    _send(base, 10, "calm2")
    time.sleep(3)
    until(lambda: bool(query(prometheus, "case_classifier_cases_total")))
    quiet = ["CaseClassifierErrors", "CaseClassifierLanguageBreakerOpen", "CaseClassifierLanguageFallbacks"]
    quiet += ["CaseClassifierPredictionLogDrops", "CaseClassifierAgreementFalling"]
    for alert in quiet:
        assert not _fires(prometheus, alert), f"{alert} fires with nothing wrong"
    provoked = []
    for alert in ("CaseClassifierLowConfidence", "CaseClassifierLabelDrift"):
        until(lambda a=alert: _fires(prometheus, a))
        provoked.append(alert)
    # Agents disagree with 50 answers.
    feedback = stack.url(stack.ports.feedback)
    corrections = [{"case_id": f"calm-{i}", "label": "display", "agent_id": "a-1"} for i in range(40)]
    corrections += [{"case_id": f"calm2-{i}", "label": "display", "agent_id": "a-1"} for i in range(10)]
    reader, crm = bearer("reader"), bearer("crm")
    until(lambda: httpx.get(f"{feedback}/v1/quality", headers=reader).json()["model_versions"][0]["predictions"] >= 50)
    assert httpx.post(f"{feedback}/v1/corrections", json={"corrections": corrections}, headers=crm).status_code == 200
    until(lambda: _fires(prometheus, "CaseClassifierAgreementFalling"))
    provoked.append("CaseClassifierAgreementFalling")
    # The language service goes away: the breaker opens, languages come from the fallback.
    running["language"].stop()
    _send(base, 40, "nolang")
    until(lambda: _fires(prometheus, "CaseClassifierLanguageBreakerOpen"))
    until(lambda: _fires(prometheus, "CaseClassifierLanguageFallbacks"))
    provoked += ["CaseClassifierLanguageBreakerOpen", "CaseClassifierLanguageFallbacks"]
    # Slow answers: big batches (64 cases of 4,000 characters each take well over 50 ms).
    for i in range(6):
        big = [BATTERY.format(f"big-{i}-{j}") + " details" * 500 for j in range(64)]
        assert infer(base, infer_body(big, request_id=f"big-{i}"), timeout=60).status_code == 200
    until(lambda: _fires(prometheus, "CaseClassifierSlowAnswers"))
    provoked.append("CaseClassifierSlowAnswers")
    # The feedback service goes away: the prediction log's buffer of 20 overflows.
    running["feedback"].stop()
    _send(base, 40, "nofeedback")
    until(lambda: _fires(prometheus, "CaseClassifierPredictionLogDrops"))
    provoked.append("CaseClassifierPredictionLogDrops")
    # The predictor goes away: answers fail.
    running["predictor"].stop()
    assert set(_send(base, 10, "nopredictor")) == {503}
    until(lambda: _fires(prometheus, "CaseClassifierErrors"))
    provoked.append("CaseClassifierErrors")
    assert sorted(provoked) == sorted(_alerts())
    rules = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    assert all(rule["health"] == "ok" for group in rules for rule in group["rules"])
    reliability.record("Operations", "alerts provoked against a real Prometheus", len(provoked), "each fired")


def test_the_dashboard_is_shipped_as_a_config_map_for_grafana():
    from tests.manifests.test_manifests import render

    (config_map,) = [
        o
        for o in render("prod")
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("case-classifier-dashboard")
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["case-classifier.json"]) == json.loads(
        (MONITORING / "dashboard.json").read_text()
    )
    assert Path(MONITORING / "dashboard.json").stat().st_size > 1000
