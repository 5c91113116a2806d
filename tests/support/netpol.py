"""A small evaluator of Kubernetes NetworkPolicy semantics, for checking a rendered fence offline.

What it implements, from the NetworkPolicy specification (networking.k8s.io/v1):

- A policy applies to the pods of its own namespace that its ``podSelector`` selects, for the
  directions in its ``policyTypes``. A pod no policy selects for a direction is open in it.
- A selected pod admits a connection when any rule of any policy selecting it matches: a rule with
  no ``from``/``to`` matches every peer, one with no ``ports`` every port.
- A peer is ``podSelector`` alone (pods of the policy's namespace), ``namespaceSelector`` alone
  (every pod of the matching namespaces), both (those pods of those namespaces), or ``ipBlock``
  (addresses in the CIDR and not in its exceptions; used here for endpoints outside the cluster,
  since pod addresses are ephemeral and policies are not written against them).
- Label selectors: ``matchLabels`` and ``matchExpressions`` (In, NotIn, Exists, DoesNotExist);
  an empty selector selects everything.
- A connection is allowed when the source's egress admits it and the destination's ingress admits
  it. Endpoints outside the cluster, and pods of namespaces without policies here, are open.

Named ports and port ranges (``endPort``) are not used by the fence and not implemented.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Policy = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace and labels) or, with ``ip``, an address outside the cluster."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a label selector matches a set of labels."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if other.namespace is None:  # outside the cluster: only ipBlocks name it
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels) if "podSelector" in peer else True


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and ("port" not in p or p["port"] == port) for p in ports)


def _admits(policies: list[Policy], pod: Endpoint, other: Endpoint, port: int, protocol: str, kind: str) -> bool:
    direction, peers_key = ("Ingress", "from") if kind == "ingress" else ("Egress", "to")
    if pod.namespace is None:
        return True
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == pod.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"].get("podSelector"), pod.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(kind) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(peer, pod.namespace, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(policies: list[Policy], source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """Whether ``source`` may open a connection to ``target`` on ``port``."""
    return _admits(policies, source, target, port, protocol, "egress") and _admits(
        policies, target, source, port, protocol, "ingress"
    )
