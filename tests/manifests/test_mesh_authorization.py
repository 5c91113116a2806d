"""The mesh's say on who calls whom (manifests/base/mesh-authorization.yaml), and the identities it
rests on.

Every Istio object of every rendered overlay and of the batch run (the route's VirtualService
included) validates against the OpenAPI schema of its apiVersion in Istio's own CRDs
(tests/data/istio-crds.yaml.gz), with nothing the API server would prune. Then a small evaluator of
RequestAuthentication and ALLOW AuthorizationPolicy semantics (Istio's: a token of an unknown issuer
is refused; a workload no ALLOW policy selects takes anything; one that is selected takes only what
a rule matches) asks, caller by caller, who reaches the transformers, the predictors, the language
service and the feedback service. Last, the identities: every service account a pod runs as exists,
and only the pods that post to the feedback service hold a token for it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import jsonschema
import pytest
import yaml

from tests.manifests.crd_schema import pruned, schema
from tests.manifests.test_manifests import OVERLAYS, _pod_specs, render, render_batch
from tests.manifests.test_network_fence import _pods

ISTIO_CRDS = "istio-crds.yaml.gz"
NAMESPACE = "case-classifier"
IDP = "https://idp.example.com/realms/crm"
CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local"
TOKEN_DIR = "/var/run/secrets/case-classifier/feedback-token"


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def _istio(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["apiVersion"].split("/")[0].endswith(".istio.io")]


def _validate(obj: dict) -> list[str]:
    """What the API server would refuse or prune in ``obj``, by its CRD's schema."""
    crd_schema = schema(ISTIO_CRDS, obj["apiVersion"], obj["kind"])
    validator = jsonschema.validators.validator_for(crd_schema)(crd_schema)
    problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    return problems + [f"pruned {p}" for p in pruned({"spec": obj["spec"]}, crd_schema)]


def test_every_istio_object_validates_against_istios_crds(rendered):
    objects = rendered[1] + render_batch()
    istio = _istio(objects)
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in istio) == [
        "AuthorizationPolicy/feedback",
        "AuthorizationPolicy/language",
        "AuthorizationPolicy/predictor",
        "AuthorizationPolicy/transformer",
        "RequestAuthentication/feedback-tokens",
        "RequestAuthentication/transformer-idp",
        "VirtualService/case-classifier",
    ]
    for obj in istio:
        assert _validate(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_the_schema_check_catches_a_typo_and_a_wrong_type():
    (policy,) = [
        o for o in render("prod") if o["kind"] == "AuthorizationPolicy" and o["metadata"]["name"] == "predictor"
    ]
    typo = yaml.safe_load(yaml.safe_dump(policy))
    typo["spec"]["rules"][0]["from"][0]["source"]["principal"] = ["x"]  # principals, misspelt
    assert _validate(typo) == ["pruned /spec/rules/0/from/0/source/principal"]
    wrong = yaml.safe_load(yaml.safe_dump(policy))
    wrong["spec"]["action"] = "PERMIT"
    assert _validate(wrong)
    with pytest.raises(KeyError):  # a kind the vendored CRDs do not hold is not passed silently
        schema(ISTIO_CRDS, "networking.istio.io/v1", "Gateway")


# --- The evaluator ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as a workload's sidecar sees it: the peer's mesh identity (none without mTLS),
    the bearer token's claims (none without a token), the path and the method."""

    principal: str | None = None
    claims: dict | None = field(default=None, hash=False)
    path: str = "/"
    method: str = "POST"

    @property
    def namespace(self) -> str | None:
        return self.principal.split("/ns/")[1].split("/")[0] if self.principal else None


def _selects(selector: dict | None, labels: dict[str, str]) -> bool:
    assert set(selector or {}) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def _match(patterns: list[str], value: str | None) -> bool:
    """Istio's string match: exact, or a prefix or suffix with one '*'."""
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _claim(claims: dict, key: str):
    """request.auth.claims[a][b] -> claims['a']['b']."""
    assert key.startswith("request.auth.claims["), key
    value = claims
    for part in key.removeprefix("request.auth.claims[").removesuffix("]").split("]["):
        value = value.get(part) if isinstance(value, dict) else None
    return value


SOURCE_FIELDS = {"principals", "namespaces", "requestPrincipals"}
OPERATION_FIELDS = {"paths", "methods"}


def _rule_matches(rule: dict, request: Request, request_principal: str | None, claims: dict) -> bool:
    assert set(rule) <= {"from", "to", "when"}, rule
    if "from" in rule:
        sources = [f["source"] for f in rule["from"]]
        assert all(set(s) <= SOURCE_FIELDS for s in sources), sources  # nothing the evaluator ignores
        if not any(
            all(
                _match(
                    s[k], {"principals": request.principal, "namespaces": request.namespace}.get(k, request_principal)
                )
                for k in s
            )
            for s in sources
        ):
            return False
    if "to" in rule:
        operations = [t["operation"] for t in rule["to"]]
        assert all(set(o) <= OPERATION_FIELDS for o in operations), operations
        if not any(
            _match(o.get("paths", ["*"]), request.path) and request.method in o.get("methods", [request.method])
            for o in operations
        ):
            return False
    for condition in rule.get("when", []):
        assert set(condition) == {"key", "values"}, condition
        value = _claim(claims, condition["key"])
        values = value if isinstance(value, list) else [value]
        if not any(_match(condition["values"], str(v)) for v in values if v is not None):
            return False
    return True


def allowed(objects: list[dict], labels: dict[str, str], request: Request) -> bool:
    """Whether the sidecar of a workload labelled ``labels`` lets ``request`` in."""
    request_principal, claims = None, {}
    rules = [
        r
        for o in objects
        if o["kind"] == "RequestAuthentication" and _selects(o["spec"].get("selector"), labels)
        for r in o["spec"]["jwtRules"]
    ]
    # Without a RequestAuthentication for the workload its sidecar reads no token at all.
    if request.claims is not None and rules:
        rule = next((r for r in rules if r["issuer"] == request.claims["iss"]), None)
        if rule is None:
            return False  # 401: "Jwt issuer is not configured"
        audiences = request.claims["aud"] if isinstance(request.claims["aud"], list) else [request.claims["aud"]]
        if rule.get("audiences") and not set(audiences) & set(rule["audiences"]):
            return False  # 401: "Audiences in Jwt are not allowed"
        request_principal, claims = f"{request.claims['iss']}/{request.claims['sub']}", request.claims
    policies = [
        o for o in objects if o["kind"] == "AuthorizationPolicy" and _selects(o["spec"].get("selector"), labels)
    ]
    assert all(p["spec"].get("action", "ALLOW") == "ALLOW" for p in policies)  # the only action used
    if not policies:
        return True
    return any(_rule_matches(r, request, request_principal, claims) for p in policies for r in p["spec"]["rules"])


def _sa(name: str, namespace: str = NAMESPACE) -> str:
    return f"cluster.local/ns/{namespace}/sa/{name}"


def _person(*roles: str, issuer: str = IDP, audience: str = "case-classifier") -> dict:
    return {"iss": issuer, "sub": "agent-7", "aud": audience, "realm_access": {"roles": list(roles)}}


def _service_token(account: str) -> dict:
    return {"iss": CLUSTER_ISSUER, "sub": f"system:serviceaccount:{NAMESPACE}:{account}", "aud": ["case-feedback"]}


TRANSFORMER, BATCH = _sa("case-transformer"), _sa("case-batch")
GATEWAY = _sa("knative-local-gateway", "istio-system")
ACTIVATOR = _sa("controller", "knative-serving")  # Knative's activator and autoscaler run as `controller`
PROMETHEUS = _sa("prometheus", "monitoring")
INFER = "/v2/models/case-classifier/infer"
LABELS = "/v2/models/case-classifier/labels"

#: (workload, request, let in?): who reaches what.
CASES = [
    # The transformers, behind the route: a person through the CRM with role crm, by whichever hop.
    ("transformer-blue", Request(GATEWAY, _person("crm"), INFER), True),
    ("transformer-green", Request(ACTIVATOR, _person("crm", "agent"), INFER), True),
    ("transformer-blue", Request(None, _person("crm"), INFER), True),  # the token is what counts
    ("transformer-blue", Request(GATEWAY, None, INFER), False),
    ("transformer-blue", Request(GATEWAY, _person("agent"), INFER), False),
    ("transformer-blue", Request(GATEWAY, _person("crm", issuer="https://evil.example.com/realms/crm"), INFER), False),
    ("transformer-blue", Request(GATEWAY, _person("crm", audience="account"), INFER), False),
    ("transformer-blue", Request(GATEWAY, _service_token("case-transformer"), INFER), False),
    ("transformer-blue", Request(TRANSFORMER, None, INFER), False),
    ("transformer-blue", Request(BATCH, None, INFER), False),
    # Knative's probes and drain hook, and the figures.
    ("transformer-blue", Request(ACTIVATOR, None, "/healthz", "GET"), True),
    ("transformer-blue", Request(GATEWAY, None, "/healthz", "GET"), True),
    ("transformer-green", Request(None, None, "/wait-for-drain", "GET"), True),
    ("transformer-blue", Request(ACTIVATOR, None, "/metrics", "GET"), True),
    ("transformer-blue", Request(PROMETHEUS, None, "/metrics", "GET"), True),
    ("transformer-blue", Request(_sa("intruder", "elsewhere"), None, "/metrics", "GET"), False),
    ("transformer-blue", Request(PROMETHEUS, None, INFER), False),
    # The slot's version and labels, for the feedback service (also through the activator).
    ("transformer-blue", Request(_sa("case-feedback"), None, LABELS, "GET"), True),
    ("transformer-green", Request(ACTIVATOR, None, LABELS, "GET"), True),
    ("transformer-blue", Request(_sa("case-feedback"), None, INFER), False),
    ("transformer-blue", Request(_sa("case-feedback"), None, "/v2/models/case-classifier", "GET"), False),
    ("transformer-blue", Request(BATCH, None, LABELS, "GET"), False),
    ("transformer-blue", Request(GATEWAY, None, LABELS, "GET"), False),
    # The predictors: the transformers' certificate (and the activator forwarding for them).
    ("predictor-blue", Request(TRANSFORMER, None, INFER), True),
    ("predictor-green", Request(TRANSFORMER, _person("crm"), INFER), True),
    ("predictor-blue", Request(ACTIVATOR, None, INFER), True),
    ("predictor-blue", Request(GATEWAY, _person("crm"), INFER), False),
    ("predictor-blue", Request(None, _person("crm"), INFER), False),
    ("predictor-blue", Request(BATCH, None, INFER), False),
    ("predictor-blue", Request(_sa("case-feedback"), None, INFER), False),
    ("predictor-blue", Request(_sa("case-language"), None, INFER), False),
    ("predictor-blue", Request(_sa("crm", "crm"), None, INFER), False),
    ("predictor-blue", Request(GATEWAY, None, "/healthz", "GET"), True),
    ("predictor-blue", Request(PROMETHEUS, None, "/metrics", "GET"), True),
    ("predictor-blue", Request(PROMETHEUS, None, INFER), False),
    # The language service: the transformers and the batch job.
    ("language", Request(TRANSFORMER, None, "/v1/detect"), True),
    ("language", Request(BATCH, None, "/v1/detect"), True),
    ("language", Request(_sa("case-feedback"), None, "/v1/detect"), False),
    ("language", Request(_sa("case-predictor"), None, "/v1/detect"), False),
    ("language", Request(_sa("case-retrain"), None, "/v1/detect"), False),
    ("language", Request(GATEWAY, _person("crm"), "/v1/detect"), False),
    ("language", Request(None, None, "/v1/detect"), False),
    ("language", Request(PROMETHEUS, None, "/metrics", "GET"), True),
    ("language", Request(PROMETHEUS, None, "/v1/detect"), False),
    # The feedback service: the transformers' and the batch job's certificates (with their own
    # tokens, whose issuer the sidecar must know), people with one of the four roles, Prometheus.
    ("feedback", Request(TRANSFORMER, _service_token("case-transformer"), "/v1/predictions"), True),
    ("feedback", Request(BATCH, _service_token("case-batch"), "/v1/predictions"), True),
    ("feedback", Request(TRANSFORMER, None, "/v1/predictions"), True),
    ("feedback", Request(_sa("case-retrain"), _service_token("case-retrain"), "/v1/predictions"), False),
    ("feedback", Request(_sa("case-predictor"), None, "/v1/predictions"), False),
    ("feedback", Request(_sa("case-language"), None, "/v1/predictions"), False),
    ("feedback", Request(None, _service_token("case-transformer"), "/v1/predictions"), False),
    *[("feedback", Request(_sa("crm", "crm"), _person(role), "/v1/corrections"), True) for role in ("crm", "agent")],
    ("feedback", Request(None, _person("privacy"), "/v1/cases/CT-1", "DELETE"), True),
    ("feedback", Request(None, _person("reader"), "/v1/quality", "GET"), True),
    ("feedback", Request(None, _person("admin"), "/v1/quality", "GET"), False),
    ("feedback", Request(None, _person("agent", issuer="https://evil.example.com/realms/crm"), "/v1/quality"), False),
    ("feedback", Request(_sa("crm", "crm"), None, "/v1/corrections"), False),
    ("feedback", Request(PROMETHEUS, None, "/metrics", "GET"), True),
    ("feedback", Request(PROMETHEUS, None, "/v1/quality", "GET"), False),
    ("feedback", Request(_sa("intruder", "elsewhere"), None, "/metrics", "GET"), False),
]


@pytest.mark.parametrize(("workload", "request_", "expected"), CASES)
def test_who_reaches_what(rendered, workload, request_, expected):
    objects = rendered[1]
    pods = _pods(objects)
    assert allowed(objects, pods[workload].labels, request_) is expected


def test_every_serving_workload_is_under_one_allow_policy_and_each_policy_selects_pods(rendered, reliability):
    """No workload left open by a selector that missed, no policy that selects nothing."""
    objects = rendered[1] + render_batch()
    pods = _pods(objects)
    mesh = [o for o in objects if o["kind"] in ("AuthorizationPolicy", "RequestAuthentication")]
    for obj in mesh:
        assert obj["spec"].get("selector"), f"{obj['metadata']['name']}: a namespace-wide policy"
        assert any(_selects(obj["spec"]["selector"], p.labels) for p in pods.values()), obj["metadata"]["name"]
    policies = [o for o in mesh if o["kind"] == "AuthorizationPolicy"]
    for name in (
        "transformer-blue",
        "transformer-green",
        "predictor-blue",
        "predictor-green",
        "language",
        "feedback",
    ):
        assert sum(_selects(p["spec"]["selector"], pods[name].labels) for p in policies) == 1, name
    # Every principal a policy names is a service account of ours or a Knative/Istio system namespace.
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    for policy in policies:
        for rule in policy["spec"]["rules"]:
            for source in (f["source"] for f in rule.get("from", [])):
                for principal in source.get("principals", []):
                    assert principal.removeprefix(f"cluster.local/ns/{NAMESPACE}/sa/") in accounts, principal
                assert set(source.get("namespaces", [])) <= {"knative-serving", "istio-system", "monitoring"}
    reliability.record(
        "Network fence",
        "callers checked against the rendered Istio policies",
        len(CASES),
        "each let in or refused as designed",
    )


def test_the_mesh_checks_the_same_tokens_as_the_services(rendered):
    """The sidecars pass every token on (the services check it again) and expect the issuers and
    audiences the services are configured with."""
    objects = rendered[1]
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "transformer-config")
    (feedback,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "feedback"]
    env = {e["name"]: e["value"] for e in feedback["spec"]["template"]["spec"]["containers"][0]["env"]}
    expected = {
        "transformer-idp": [(config["data"][f"TRANSFORMER_AUTH_{k}"]) for k in ("ISSUER", "JWKS_URL", "AUDIENCE")],
        "feedback-tokens": [env[f"FEEDBACK_AUTH_{k}"] for k in ("ISSUER", "JWKS_URL", "AUDIENCE")]
        + [env[f"FEEDBACK_AUTH_SERVICE_{k}"] for k in ("ISSUER", "JWKS_URL", "AUDIENCE")],
    }
    for authn in (o for o in objects if o["kind"] == "RequestAuthentication"):
        rules = authn["spec"]["jwtRules"]
        assert all(r["forwardOriginalToken"] is True for r in rules)
        seen = [value for r in rules for value in (r["issuer"], r["jwksUri"], *r["audiences"])]
        assert seen == expected[authn["metadata"]["name"]]


def test_every_pod_runs_as_a_service_account_of_its_own_that_exists(rendered):
    objects = rendered[1] + render_batch()
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    used = {}
    for where, pod in _pod_specs(objects):
        assert pod.get("serviceAccountName") in accounts, f"{where}: {pod.get('serviceAccountName')}"
        used[where] = pod["serviceAccountName"]
    assert used == {
        "isvc/predictor": "case-predictor",
        "isvc/transformer": "case-transformer",
        "deployment/language": "case-language",
        "deployment/feedback": "case-feedback",
        "cronjob/case-retrain": "case-retrain",
        "rayjob/head": "case-batch",
        "rayjob/scorers": "case-batch",
        "rayjob/submitter": "case-batch",
    }
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())


def test_only_the_pods_that_post_to_the_feedback_service_hold_a_token_for_it(rendered):
    """A projected token, audience case-feedback, an hour, read-only, for the transformers and the
    batch job's head (where its driver and a feedback load run); none anywhere else. The one
    token for the API server is the feedback service's, mounted apart, to fetch the cluster
    issuer's JWKS with."""
    objects = rendered[1] + render_batch()
    holders = []
    for where, pod in _pod_specs(objects):
        for volume in pod.get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                if "serviceAccountToken" not in source:
                    continue
                if volume["name"] == "api-access":
                    assert where == "deployment/feedback"
                    assert source["serviceAccountToken"] == {"expirationSeconds": 3600, "path": "token"}
                    (container,) = pod["containers"]
                    env = {e["name"]: e.get("value") for e in container.get("env", [])}
                    assert env["FEEDBACK_AUTH_SERVICE_JWKS_TOKEN_FILE"] == "/var/run/secrets/case-classifier/api/token"
                    continue
                assert source["serviceAccountToken"] == {
                    "audience": "case-feedback",
                    "expirationSeconds": 3600,
                    "path": "token",
                }
                (container,) = pod["containers"]
                (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
                assert mount == {"name": volume["name"], "mountPath": TOKEN_DIR, "readOnly": True}
                holders.append(where)
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                if where == "isvc/transformer":
                    assert env["TRANSFORMER_FEEDBACK_TOKEN_FILE"] == f"{TOKEN_DIR}/token"
    # Once per slot for the transformers.
    assert sorted(set(holders)) == ["isvc/transformer", "rayjob/head"]
    # Wherever the batch job's feedback loader runs in the manifests, it is given the token.
    for obj in objects:
        text = yaml.safe_dump(obj)
        if "case-batch-feedback" in text or "case_batch.feedback" in text:
            assert f"--feedback-token-file={TOKEN_DIR}/token" in text, obj["metadata"]["name"]


def test_the_namespace_has_sidecars_but_where_they_would_keep_a_job_running(rendered):
    """Sidecars carry the identities the policies check; the retraining job and the batch
    submitter (run to completion, call nothing in the mesh) opt out."""
    objects = rendered[1] + render_batch()
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    (cronjob,) = [o for o in objects if o["kind"] == "CronJob"]
    (rayjob,) = [o for o in objects if o["kind"] == "RayJob"]
    for template in (cronjob["spec"]["jobTemplate"]["spec"]["template"], rayjob["spec"]["submitterPodTemplate"]):
        assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"


def test_the_evaluator_tells_the_cases_apart():
    labels = {"app": "x"}
    authn = {
        "kind": "RequestAuthentication",
        "spec": {"selector": {"matchLabels": labels}, "jwtRules": [{"issuer": "i", "audiences": ["a"]}]},
    }

    def policy(*rules: dict) -> dict:
        return {
            "kind": "AuthorizationPolicy",
            "spec": {"selector": {"matchLabels": labels}, "action": "ALLOW", "rules": list(rules)},
        }

    token = {"iss": "i", "sub": "s", "aud": "a", "r": {"roles": ["crm"]}}
    assert allowed([], labels, Request())  # no policy: open
    assert allowed([], labels, Request(claims={**token, "iss": "j"}))  # no RequestAuthentication: token unread
    assert not allowed([authn], labels, Request(claims={**token, "iss": "j"}))  # unknown issuer: 401
    assert not allowed([authn], labels, Request(claims={**token, "aud": "b"}))
    by_role = policy(
        {
            "from": [{"source": {"requestPrincipals": ["i/*"]}}],
            "when": [{"key": "request.auth.claims[r][roles]", "values": ["crm"]}],
        }
    )
    assert allowed([authn, by_role], labels, Request(claims=token))
    assert not allowed([authn, by_role], labels, Request(claims={**token, "r": {"roles": ["other"]}}))
    assert not allowed([authn, by_role], labels, Request())
    assert allowed([authn, by_role], {"app": "y"}, Request())  # another workload: not selected
    by_path = policy(
        {"from": [{"source": {"namespaces": ["n"]}}], "to": [{"operation": {"paths": ["/m"], "methods": ["GET"]}}]}
    )
    assert allowed([by_path], labels, Request(_sa("p", "n"), path="/m", method="GET"))
    assert not allowed([by_path], labels, Request(_sa("p", "n"), path="/m", method="POST"))
    assert not allowed([by_path], labels, Request(_sa("p", "o"), path="/m", method="GET"))
    assert not allowed([by_path], labels, Request(None, path="/m", method="GET"))  # plaintext: no namespace
    with pytest.raises(AssertionError):  # a field the evaluator does not know is never ignored
        allowed([policy({"from": [{"source": {"notPrincipals": ["x"]}}]})], labels, Request())
