"""Talking to the cluster with the official ``kubernetes`` client: patch, read, wait."""

from __future__ import annotations

import time
from typing import Any

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


class RolloutError(RuntimeError):
    """A rollout step failed or timed out; the message says what the cluster reported."""


def api() -> Any:
    """A CustomObjectsApi from the in-cluster config, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def get(objects: Any, namespace: str, name: str) -> dict[str, Any]:
    """The InferenceService as the cluster has it."""
    isvc: dict[str, Any] = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return isvc


def patch(objects: Any, namespace: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply a JSON patch (a list body is sent as application/json-patch+json)."""
    isvc: dict[str, Any] = objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, ops)
    return isvc


def summary(isvc: dict[str, Any]) -> dict[str, Any]:
    """URL, readiness conditions and the traffic split per component."""
    status = isvc.get("status", {})
    return {
        "url": status.get("url"),
        "conditions": {c["type"]: c.get("status") for c in status.get("conditions", [])},
        "traffic": {
            component: [
                {"revision": t.get("revisionName"), "percent": t.get("percent"), "latest": t.get("latestRevision")}
                for t in details.get("traffic", [])
            ]
            for component, details in status.get("components", {}).items()
        },
    }


def wait_ready(objects: Any, namespace: str, name: str, timeout: float, poll: float = 2.0) -> dict[str, Any]:
    """Wait until the InferenceService is Ready with its latest revisions ready; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        isvc = get(objects, namespace, name)
        status = isvc.get("status", {})
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        components = status.get("components", {})
        settled = all(c.get("latestCreatedRevision") == c.get("latestReadyRevision") for c in components.values())
        if conditions.get("Ready", {}).get("status") == "True" and settled:
            return isvc
        if time.monotonic() > deadline:
            reasons = "; ".join(
                f"{t}: {c.get('reason', '')} {c.get('message', '')}".strip()
                for t, c in conditions.items()
                if c.get("status") != "True"
            )
            raise RolloutError(f"{name} not ready after {timeout:.0f}s ({reasons or 'no conditions reported'})")
        time.sleep(poll)
