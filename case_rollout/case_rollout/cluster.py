"""Talking to the cluster: ``kubectl apply -k`` for changes, the ``kubernetes`` client to read and wait.

Changes go through ``kubectl apply`` of the release's objects (the two slots' InferenceServices and
the route) as the overlay renders them, release files included, so the cluster receives exactly
what ``kubectl apply -k`` of the manifests would send for them, and the two never disagree.
Connection settings follow kubectl's habits: ``--kubeconfig``, then ``KUBECONFIG`` or
``~/.kube/config``, and only without any of them the in-cluster service account; ``--context``
picks a context of the kubeconfig.
"""

from __future__ import annotations

import os
import shutil

# kubectl with an argument list we build, no shell
import subprocess  # nosec B404
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
ROUTE_GROUP, ROUTE_VERSION, ROUTE_PLURAL = "networking.istio.io", "v1beta1", "virtualservices"
#: The objects a release changes, by kind and name; the rollout's Role may patch these only.
RELEASE_OBJECTS = {
    ("InferenceService", "case-classifier-blue"),
    ("InferenceService", "case-classifier-green"),
    ("VirtualService", "case-classifier"),
}


class RolloutError(RuntimeError):
    """A rollout step failed or timed out; the message says what the cluster reported."""


@dataclass(frozen=True)
class Connection:
    """Which cluster, as kubectl would pick it."""

    context: str | None = None
    kubeconfig: str | None = None

    def kubectl_flags(self) -> list[str]:
        """The same choice for a kubectl call."""
        flags = [f"--context={self.context}"] if self.context else []
        return flags + ([f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else [])

    def kubeconfig_file(self) -> str | None:
        """The kubeconfig kubectl would read, if there is one."""
        if self.kubeconfig:
            return self.kubeconfig
        from_env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        default = Path.home() / ".kube" / "config"
        return from_env or (str(default) if default.is_file() else None)


def api(connection: Connection) -> Any:
    """A CustomObjectsApi from the kubeconfig when there is one, else the in-cluster config."""
    from kubernetes import client, config

    kubeconfig = connection.kubeconfig_file()
    try:
        if kubeconfig or connection.context:
            config.load_kube_config(config_file=kubeconfig, context=connection.context)
        else:
            config.load_incluster_config()
    except (config.ConfigException, OSError) as error:
        raise RolloutError(f"no cluster to talk to: {error}") from error
    return client.CustomObjectsApi()


def apply(overlay: Path, connection: Connection, server_dry_run: bool = False) -> str:
    """Render the overlay and ``kubectl apply`` the release's objects, and only those: the rollout's
    Role may then patch them and nothing else (``manifests/base/rollout-rbac.yaml``).
    With ``server_dry_run`` the API server checks the change and keeps nothing.

    Raises:
        RolloutError: kubectl is missing, the overlay does not render, or the apply failed (with
            kubectl's own message).
    """
    import yaml

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RolloutError("kubectl not found: the rollout renders and applies the overlay with kubectl")
    rendered = _kubectl([kubectl, "kustomize", str(overlay)], f"kubectl kustomize {overlay}")
    found = [
        d
        for d in yaml.safe_load_all(rendered)
        if d and (d.get("kind"), d.get("metadata", {}).get("name")) in RELEASE_OBJECTS
    ]
    if len(found) != len(RELEASE_OBJECTS):
        names = sorted(f"{kind}/{name}" for kind, name in RELEASE_OBJECTS)
        raise RolloutError(f"{overlay} renders {len(found)} of the release's objects ({', '.join(names)})")
    argv = [kubectl, *connection.kubectl_flags(), "apply", "-f", "-"]
    if server_dry_run:
        argv.append("--dry-run=server")
    return _kubectl(argv, "kubectl apply", yaml.safe_dump_all(found))


def _kubectl(argv: list[str], what: str, stdin: str | None = None) -> str:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)  # nosec B603
    if result.returncode != 0:
        raise RolloutError(f"{what} failed: {result.stderr.strip()}")
    return result.stdout


def scratch_copy(overlay: Path) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    """A throw-away copy of the manifests tree holding ``overlay`` (overlays/<env> under it), and
    the overlay's path inside it: a dry run must not rewrite the release under version control."""
    root = overlay.resolve().parents[1]
    scratch = tempfile.TemporaryDirectory(prefix="case-rollout-")
    shutil.copytree(root, Path(scratch.name) / root.name)
    return scratch, Path(scratch.name) / root.name / overlay.resolve().relative_to(root)


def get(objects: Any, namespace: str, name: str) -> dict[str, Any]:
    """The InferenceService as the cluster has it."""
    isvc: dict[str, Any] = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return isvc


def get_route(objects: Any, namespace: str, name: str = "case-classifier") -> dict[str, Any]:
    """The route in front of the slots, as the cluster has it."""
    route: dict[str, Any] = objects.get_namespaced_custom_object(
        ROUTE_GROUP, ROUTE_VERSION, namespace, ROUTE_PLURAL, name
    )
    return route


def weights(route: dict[str, Any]) -> dict[str, int]:
    """The route's weight per destination Host (a slot's transformer)."""
    return {
        r["headers"]["request"]["set"]["Host"].split(".", 1)[0]: int(r.get("weight", 0))
        for r in route.get("spec", {}).get("http", [{}])[0].get("route", [])
    }


def summary(isvc: dict[str, Any]) -> dict[str, Any]:
    """URL, readiness conditions and the traffic split per component (within one slot)."""
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
