"""Judging a canary by live evidence: the canary against the stable version, side by side.

The figures come from where they are recorded: Prometheus for what the transformers saw (requests
whose predictor call failed, p99 of the answer time, the share of low-confidence answers), and the
feedback service for what agents said (agreement rate of reviewed cases). Every series is split by
model version by joining on the transformer's ``case_classifier_model_info{model_version}``, so no
scrape configuration has to know which pod runs which version.

A verdict needs enough evidence on both sides: below the minimum sample sizes the answer is
*hold*, never *promote*. Any figure of the canary worse than the stable one beyond its margin is
*rollback*, with the figures; otherwise *promote*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PROMOTE, HOLD, ROLLBACK = "promote", "hold", "rollback"
_BY_VERSION = "* on (instance) group_left (model_version) case_classifier_model_info"


class EvidenceError(RuntimeError):
    """Prometheus or the feedback service could not be read."""


@dataclass(frozen=True)
class Margins:
    """How much worse the canary may be, and how much evidence a verdict needs."""

    min_cases: int = 200
    max_error_rate_increase: float = 0.01
    max_p99_ratio: float = 1.5
    max_low_confidence_increase: float = 0.05
    min_reviewed: int = 50
    max_agreement_drop: float = 0.05


@dataclass
class Side:
    """One version's figures over the window."""

    version: str
    cases: float = 0.0
    calls: float = 0.0
    failed_calls: float = 0.0
    low_confidence: float = 0.0
    p99_seconds: float | None = None
    reviewed: int = 0
    agreement_rate: float | None = None

    @property
    def error_rate(self) -> float:
        """Share of predictor calls that failed."""
        return self.failed_calls / self.calls if self.calls else 0.0

    @property
    def low_confidence_share(self) -> float:
        """Share of answered cases below the confidence floor."""
        return self.low_confidence / self.cases if self.cases else 0.0


@dataclass
class Verdict:
    """What to do with the canary, and why."""

    decision: str
    reasons: list[str] = field(default_factory=list)
    stable: Side | None = None
    canary: Side | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as ``rollout analyze`` prints it."""
        sides = {}
        for name, side in (("stable", self.stable), ("canary", self.canary)):
            if side is not None:
                sides[name] = {
                    "version": side.version,
                    "cases": round(side.cases),
                    "error_rate": round(side.error_rate, 4),
                    "p99_ms": None if side.p99_seconds is None else round(side.p99_seconds * 1000, 1),
                    "low_confidence_share": round(side.low_confidence_share, 4),
                    "reviewed": side.reviewed,
                    "agreement_rate": side.agreement_rate,
                }
        return {"decision": self.decision, "reasons": self.reasons, **sides}


def _query(client: httpx.Client, prometheus: str, promql: str) -> dict[str, float]:
    """An instant query; the value per model version."""
    try:
        response = client.get(f"{prometheus.rstrip('/')}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise EvidenceError(f"Prometheus at {prometheus}: {error}") from error
    values = {}
    for series in body["data"]["result"]:
        value = float(series["value"][1])
        if not math.isnan(value):
            values[series["metric"].get("model_version", "")] = value
    return values


def from_prometheus(prometheus: str, versions: list[str], window: str) -> dict[str, Side]:
    """Each version's transformer figures over the last ``window`` (a PromQL duration)."""

    def increase(metric: str) -> str:
        return f"sum by (model_version) (increase({metric}[{window}]) {_BY_VERSION})"

    sides = {v: Side(v) for v in versions}
    with httpx.Client(timeout=10) as client:
        figures = {
            "cases": _query(client, prometheus, increase("case_classifier_cases_total")),
            "low_confidence": _query(
                client, prometheus, increase('case_classifier_cases_total{status="low_confidence"}')
            ),
            "calls": _query(client, prometheus, increase("case_classifier_predictor_calls_total")),
            "failed_calls": _query(
                client, prometheus, increase('case_classifier_predictor_calls_total{outcome!="ok"}')
            ),
        }
        p99 = _query(
            client,
            prometheus,
            "histogram_quantile(0.99, sum by (model_version, le) "
            f"(increase(case_classifier_answer_seconds_bucket[{window}]) {_BY_VERSION}))",
        )
    for version, side in sides.items():
        for name, values in figures.items():
            setattr(side, name, values.get(version, 0.0))
        side.p99_seconds = p99.get(version)
    return sides


def add_feedback(feedback: str, sides: dict[str, Side], token_file: str = "") -> None:
    """Reviewed cases and agreement rate per version, from the feedback service's quality figures
    (read with the token in ``token_file``, of the reader role)."""
    try:
        headers = {}
        if token_file:
            headers["authorization"] = "Bearer " + Path(token_file).read_text(encoding="utf-8").strip()
        response = httpx.get(f"{feedback.rstrip('/')}/v1/quality", timeout=10, headers=headers)
        response.raise_for_status()
        quality = response.json()["model_versions"]
    except (httpx.HTTPError, OSError, ValueError, KeyError) as error:
        raise EvidenceError(f"feedback service at {feedback}: {error}") from error
    for row in quality:
        side = sides.get(row["model_version"])
        if side is not None:
            side.reviewed = int(row["reviewed"])
            side.agreement_rate = row["agreement_rate"]


def judge(stable: Side, canary: Side, margins: Margins = Margins()) -> Verdict:
    """Promote, hold or roll back, with the reasons."""
    verdict = Verdict(HOLD, stable=stable, canary=canary)
    worse = []
    if canary.error_rate > stable.error_rate + margins.max_error_rate_increase:
        worse.append(
            f"error rate {canary.error_rate:.2%} against {stable.error_rate:.2%} "
            f"(margin {margins.max_error_rate_increase:.2%})"
        )
    new_p99, old_p99 = canary.p99_seconds, stable.p99_seconds
    if new_p99 is not None and old_p99 and new_p99 > old_p99 * margins.max_p99_ratio:
        worse.append(f"p99 {new_p99 * 1000:.1f} ms against {old_p99 * 1000:.1f} ms (at most {margins.max_p99_ratio}x)")
    if canary.low_confidence_share > stable.low_confidence_share + margins.max_low_confidence_increase:
        worse.append(
            f"low-confidence share {canary.low_confidence_share:.2%} against {stable.low_confidence_share:.2%} "
            f"(margin {margins.max_low_confidence_increase:.2%})"
        )
    reviewed = min(stable.reviewed, canary.reviewed) >= margins.min_reviewed
    old_agreement, new_agreement = stable.agreement_rate, canary.agreement_rate
    if (
        reviewed
        and old_agreement is not None
        and new_agreement is not None
        and new_agreement < old_agreement - margins.max_agreement_drop
    ):
        worse.append(
            f"agents agree with {new_agreement:.2%} of its reviewed answers against "
            f"{old_agreement:.2%} (margin {margins.max_agreement_drop:.2%})"
        )
    enough = min(stable.cases, canary.cases) >= margins.min_cases
    if worse and enough:
        verdict.decision, verdict.reasons = (
            ROLLBACK,
            [f"{canary.version} is worse than {stable.version}: {w}" for w in worse],
        )
    elif not enough:
        verdict.reasons = [
            f"not enough evidence: {canary.cases:.0f} canary and {stable.cases:.0f} stable cases in the window, "
            f"{margins.min_cases} needed on each side"
        ]
    else:
        verdict.decision = PROMOTE
        verdict.reasons = [f"{canary.version} within every margin of {stable.version} over {canary.cases:.0f} cases"]
        if not reviewed:
            verdict.reasons.append(
                f"agreement not compared: fewer than {margins.min_reviewed} reviewed cases on a side"
            )
    return verdict
