"""The JSON patches (RFC 6902) each rollout step applies to the InferenceService.

KServe's canary semantics (serverless mode): a new component spec with ``canaryTrafficPercent: N``
creates a revision that gets N% while the last rolled-out revision keeps the rest; removing the
field promotes the new revision to 100%; setting it to 0 pins all traffic to the previous good
revision (rollback). Predictor and transformer move together: they ship the same model version.
"""

from __future__ import annotations

from typing import Any

COMPONENTS = ("predictor", "transformer")
Patch = list[dict[str, Any]]


def image(registry: str, component: str, version: str) -> str:
    """The image of ``component`` for a model version (image tags are model versions)."""
    return f"{registry.rstrip('/')}/case-classifier-{component}:{version}"


def deploy(version: str, canary: int, registry: str) -> Patch:
    """New images for both components, with ``canary`` percent of traffic to them."""
    if not 0 < canary <= 100:
        raise ValueError(f"--canary must be within 1..100, got {canary}")
    ops: Patch = []
    for component in COMPONENTS:
        ops.append(
            {
                "op": "replace",
                "path": f"/spec/{component}/containers/0/image",
                "value": image(registry, component, version),
            }
        )
        if canary < 100:
            ops.append({"op": "add", "path": f"/spec/{component}/canaryTrafficPercent", "value": canary})
    return ops


def promote(isvc: dict[str, Any] | None) -> Patch:
    """Remove ``canaryTrafficPercent`` where set (all of them when the current object is unknown)."""
    spec = (isvc or {}).get("spec", {})
    return [
        {"op": "remove", "path": f"/spec/{component}/canaryTrafficPercent"}
        for component in COMPONENTS
        if isvc is None or "canaryTrafficPercent" in spec.get(component, {})
    ]


def rollback() -> Patch:
    """All traffic back to the last good (rolled-out) revision of both components."""
    return [{"op": "add", "path": f"/spec/{component}/canaryTrafficPercent", "value": 0} for component in COMPONENTS]
