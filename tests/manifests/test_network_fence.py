"""The namespace's network fence, path by path: the rendered NetworkPolicies (both overlays and the
batch run), the pods as the rendered workloads label them, and the neighbours a cluster has
(Knative's activator, Istio's gateway and control plane, DNS, the CRM, Prometheus, the store, the
model index, the candidates store, the identity provider, the API server, another namespace, the
internet). Every path the system uses must be allowed, every other one
refused; tests/support/netpol.py is the evaluator."""

from __future__ import annotations

import pytest

from tests.manifests.test_manifests import OVERLAYS, render, render_batch
from tests.support.netpol import Endpoint, allowed, selects

NAMESPACE = "case-classifier"


def _namespace(name: str, **labels: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": name, **labels}


OURS = _namespace(NAMESPACE)
NEIGHBOURS = {
    "gateway": Endpoint("gateway", "istio-system", {"istio": "ingressgateway"}, _namespace("istio-system")),
    "activator": Endpoint("activator", "knative-serving", {"app": "activator"}, _namespace("knative-serving")),
    "istiod": Endpoint("istiod", "istio-system", {"app": "istiod"}, _namespace("istio-system")),
    "dns": Endpoint("dns", "kube-system", {"k8s-app": "kube-dns"}, _namespace("kube-system")),
    "crm": Endpoint("crm", "crm", {"app": "crm"}, _namespace("crm", **{"case-classifier.example.com/crm": "true"})),
    "prometheus": Endpoint(
        "prometheus",
        "monitoring",
        {"app": "prometheus"},
        _namespace("monitoring", **{"case-classifier.io/prometheus": "true"}),
    ),
    "store": Endpoint(
        "store",
        "databases",
        {"app": "postgres"},
        _namespace("databases", **{"case-classifier.io/feedback-store": "true"}),
    ),
    "index": Endpoint(
        "index", "packages", {"app": "pypiserver"}, _namespace("packages", **{"case-classifier.io/model-index": "true"})
    ),
    # Where the retraining job stages its unsigned candidates; never the production index.
    "candidates": Endpoint(
        "candidates",
        "artifacts",
        {"app": "nexus"},
        _namespace("artifacts", **{"case-classifier.io/model-candidates": "true"}),
    ),
    # The company's identity provider (Keycloak), whose signing keys the services fetch.
    "idp": Endpoint(
        "idp",
        "identity",
        {"app": "keycloak"},
        _namespace("identity", **{"case-classifier.io/identity-provider": "true"}),
    ),
    # The API server at the address the fence names for it (networkpolicies.yaml, set per cluster).
    "apiserver": Endpoint("apiserver", ip="192.0.2.1"),
    "intruder": Endpoint("intruder", "elsewhere", {"app": "intruder"}, _namespace("elsewhere")),
    "internet": Endpoint("internet", ip="203.0.113.10"),
}


def _pods(objects: list[dict]) -> dict[str, Endpoint]:
    """One endpoint per kind of pod the workloads run, labelled as their controllers label them."""
    pods: dict[str, Endpoint] = {}

    def add(name: str, labels: dict[str, str]) -> None:
        pods[name] = Endpoint(name, NAMESPACE, labels, OURS)

    for obj in objects:
        kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec", {})
        if kind == "InferenceService":  # KServe: the InferenceService's labels, plus these two
            slot = name.removeprefix("case-classifier-")
            for component in ("transformer", "predictor"):
                labels = {**obj["metadata"].get("labels", {}), "component": component}
                add(f"{component}-{slot}", labels | {"serving.kserve.io/inferenceservice": name})
        elif kind == "Deployment":
            add(name, spec["template"]["metadata"]["labels"])
        elif kind == "CronJob":
            add(name, spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
        elif kind == "RayJob":  # KubeRay adds the node type
            cluster = spec["rayClusterSpec"]
            add("ray-head", {**cluster["headGroupSpec"]["template"]["metadata"]["labels"], "ray.io/node-type": "head"})
            worker = cluster["workerGroupSpecs"][0]["template"]["metadata"]["labels"]
            add("ray-worker", {**worker, "ray.io/node-type": "worker"})
            add("ray-submitter", spec["submitterPodTemplate"]["metadata"]["labels"])
    add("rogue", {"app": "rogue"})  # any other pod of the namespace
    return pods


#: (source, target, port, protocol): the paths the system uses.
ALLOWED = [
    ("gateway", "transformer-blue", 8080, "TCP"),
    ("activator", "transformer-green", 8080, "TCP"),
    ("transformer-blue", "gateway", 8080, "TCP"),
    ("transformer-green", "activator", 8012, "TCP"),
    ("gateway", "predictor-blue", 8080, "TCP"),
    ("activator", "predictor-green", 8080, "TCP"),
    ("transformer-blue", "language", 8082, "TCP"),
    ("transformer-green", "feedback", 8083, "TCP"),
    ("crm", "feedback", 8083, "TCP"),
    ("prometheus", "transformer-blue", 8080, "TCP"),
    ("prometheus", "predictor-green", 8080, "TCP"),
    ("prometheus", "language", 8082, "TCP"),
    ("prometheus", "feedback", 8083, "TCP"),
    ("transformer-blue", "dns", 53, "UDP"),
    ("predictor-blue", "dns", 53, "UDP"),
    ("feedback", "dns", 53, "TCP"),
    ("feedback", "store", 5432, "TCP"),
    ("case-retrain", "store", 5432, "TCP"),
    ("case-retrain", "candidates", 443, "TCP"),
    # Reading the versions the production index holds, to number a candidate above them.
    ("case-retrain", "index", 443, "TCP"),
    ("ray-submitter", "ray-head", 8265, "TCP"),
    ("ray-worker", "ray-head", 6379, "TCP"),
    ("ray-head", "ray-worker", 10002, "TCP"),
    ("ray-worker", "language", 8082, "TCP"),
    ("ray-head", "feedback", 8083, "TCP"),
    ("ray-worker", "internet", 443, "TCP"),
    # The mesh: every sidecar asks istiod; the transformer's sidecar reaches the predictor's
    # queue-proxy directly (net-istio's mesh route), so the predictor sees the transformer's identity.
    ("predictor-blue", "istiod", 15012, "TCP"),
    ("transformer-green", "istiod", 15012, "TCP"),
    ("language", "istiod", 15012, "TCP"),
    ("feedback", "istiod", 15012, "TCP"),
    ("ray-worker", "istiod", 15012, "TCP"),
    ("transformer-blue", "predictor-blue", 8012, "TCP"),
    ("transformer-green", "predictor-blue", 8012, "TCP"),
    # The feedback service reads each slot's version and labels from its transformer.
    ("feedback", "transformer-blue", 8012, "TCP"),
    ("feedback", "transformer-green", 8012, "TCP"),
    ("feedback", "gateway", 8080, "TCP"),
    ("feedback", "activator", 8012, "TCP"),
    # Token signing keys: the identity provider's for the transformer and the feedback service,
    # the API server's for the feedback service.
    ("transformer-blue", "idp", 443, "TCP"),
    ("feedback", "idp", 443, "TCP"),
    ("feedback", "idp", 8443, "TCP"),
    ("feedback", "apiserver", 443, "TCP"),
    ("feedback", "apiserver", 6443, "TCP"),
]
#: Paths that must be refused: around the gateway, into Ray, out to the internet, across services.
REFUSED = [
    ("intruder", "predictor-blue", 8080, "TCP"),
    ("intruder", "transformer-blue", 8080, "TCP"),
    ("rogue", "predictor-green", 8080, "TCP"),
    ("crm", "predictor-blue", 8080, "TCP"),
    ("crm", "language", 8082, "TCP"),
    ("intruder", "feedback", 8083, "TCP"),
    ("rogue", "ray-head", 8265, "TCP"),
    ("transformer-blue", "ray-head", 8265, "TCP"),
    ("intruder", "ray-head", 6379, "TCP"),
    ("prometheus", "ray-head", 8265, "TCP"),
    ("predictor-blue", "internet", 443, "TCP"),
    ("transformer-green", "internet", 443, "TCP"),
    ("language", "internet", 443, "TCP"),
    ("feedback", "internet", 443, "TCP"),
    ("case-retrain", "internet", 443, "TCP"),
    ("transformer-blue", "store", 5432, "TCP"),
    ("ray-worker", "store", 5432, "TCP"),
    ("feedback", "index", 443, "TCP"),
    # The retraining job reads the index's versions over HTTPS only (it publishes nothing there:
    # no upload credentials, no release key; a person's release does).
    ("case-retrain", "index", 8080, "TCP"),
    ("feedback", "candidates", 443, "TCP"),
    ("predictor-blue", "language", 8082, "TCP"),
    ("predictor-blue", "feedback", 8083, "TCP"),
    ("feedback", "transformer-blue", 8080, "TCP"),  # the queue-proxy only
    ("feedback", "predictor-blue", 8012, "TCP"),
    ("language", "transformer-blue", 8012, "TCP"),
    ("transformer-blue", "predictor-blue", 8080, "TCP"),  # the queue-proxy (8012) only, never the model's port
    ("language", "predictor-blue", 8012, "TCP"),
    ("crm", "predictor-blue", 8012, "TCP"),
    ("predictor-blue", "idp", 443, "TCP"),
    ("language", "idp", 443, "TCP"),
    ("transformer-blue", "apiserver", 443, "TCP"),
    ("language", "apiserver", 443, "TCP"),
    ("feedback", "apiserver", 8080, "TCP"),
    ("feedback", "idp", 5432, "TCP"),
    ("predictor-blue", "istiod", 8080, "TCP"),
    ("ray-worker", "internet", 80, "TCP"),
    ("ray-submitter", "language", 8082, "TCP"),
    ("rogue", "dns", 5353, "UDP"),
    # Pods with no path in: only the default deny stands between them and everyone.
    ("intruder", "case-retrain", 8080, "TCP"),
    ("transformer-blue", "ray-submitter", 8080, "TCP"),
    ("intruder", "rogue", 8080, "TCP"),
]


@pytest.fixture(scope="module", params=OVERLAYS)
def fence(request) -> tuple[list[dict], dict[str, Endpoint]]:
    objects = render(request.param) + render_batch()
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    return policies, {**NEIGHBOURS, **_pods(objects)}


@pytest.mark.parametrize(("source", "target", "port", "protocol"), ALLOWED)
def test_a_path_the_system_uses_is_allowed(fence, source, target, port, protocol):
    policies, endpoints = fence
    assert allowed(policies, endpoints[source], endpoints[target], port, protocol)


@pytest.mark.parametrize(("source", "target", "port", "protocol"), REFUSED)
def test_any_other_path_is_refused(fence, source, target, port, protocol):
    policies, endpoints = fence
    assert not allowed(policies, endpoints[source], endpoints[target], port, protocol)


def test_every_pod_of_the_namespace_is_fenced_both_ways(fence, reliability):
    policies, endpoints = fence
    ours = [e for e in endpoints.values() if e.namespace == NAMESPACE]
    for pod in ours:
        for direction in ("Ingress", "Egress"):
            assert any(
                direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod.labels)
                for p in policies
            ), f"{pod.name}: no {direction} policy"
    reliability.record(
        "Network fence",
        "paths checked against the rendered NetworkPolicies",
        len(ALLOWED) + len(REFUSED),
        "each allowed or refused as designed",
    )


def test_nothing_is_reachable_from_outside_the_cluster(fence):
    """Cluster-local: the slots have no external address, and the route listens on Knative's
    local gateway only (the CRM runs in the cluster)."""
    objects = render("prod")
    for isvc in (o for o in objects if o["kind"] == "InferenceService"):
        assert isvc["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
    (route,) = [o for o in objects if o["kind"] == "VirtualService"]
    assert route["spec"]["gateways"] == ["knative-serving/knative-local-gateway"]
    assert all(host.startswith("case-classifier.case-classifier") for host in route["spec"]["hosts"])


def test_the_evaluator_tells_the_cases_apart():
    """The evaluator itself, on the shapes the fence relies on."""
    a = Endpoint("a", "n", {"role": "a"}, {"kubernetes.io/metadata.name": "n"})
    b = Endpoint("b", "n", {"role": "b"}, {"kubernetes.io/metadata.name": "n"})
    outside = Endpoint("o", "m", {"role": "a"}, {"kubernetes.io/metadata.name": "m"})

    def policy(spec: dict) -> dict:
        return {"metadata": {"namespace": "n"}, "spec": spec}

    assert allowed([], a, b, 80)  # nothing selects: open
    deny = policy({"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not allowed([deny], a, b, 80)
    from_a = policy(
        {
            "podSelector": {"matchLabels": {"role": "b"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "a"}}}], "ports": [{"port": 80}]}],
        }
    )
    assert allowed([deny, from_a], a, b, 80)
    assert not allowed([deny, from_a], a, b, 81)  # another port
    assert not allowed([deny, from_a], outside, b, 80)  # a podSelector alone means this namespace
    assert not allowed([deny, from_a], a, b, 80, "UDP")
    egress_deny = policy({"podSelector": {}, "policyTypes": ["Egress"]})
    assert not allowed([egress_deny, from_a], a, b, 80)  # both ends must agree
    web = Endpoint("w", ip="203.0.113.1")
    internal = Endpoint("i", ip="10.1.2.3")
    to_web = policy(
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}],
        }
    )
    assert allowed([to_web], a, web, 443)
    assert not allowed([to_web], a, internal, 443)
    assert selects({"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["b"]}]}, {"role": "a"})
    assert not selects({"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}, {"role": "a"})
