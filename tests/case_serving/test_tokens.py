"""Token checks in-process: each forgery refused, the cache, the JWKS refetch and its rate, roles
from each provider's claim, the rates per principal, and a gate that cannot be set up weakly."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from case_serving.access import Forbidden, Gate, RateLimited, RateLimiter, parse_rates
from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER
from case_serving.tokens import Issuer, Principal, TokenPolicy, TokenRefused, TokenVerifier
from dev.tokens import JWKS, KEYS, public_jwk
from tests.support.auth import claims, ensure_issuer, forged, token

ensure_issuer()


def dev_verifier(**policy) -> TokenVerifier:
    return TokenVerifier([Issuer(DEV_ISSUER, DEV_AUDIENCE, str(KEYS / JWKS))], TokenPolicy(**policy))


@pytest.mark.parametrize("name", sorted(forged()))
def test_each_forgery_is_refused_naming_the_check_only(name):
    verifier = dev_verifier()
    forgery = forged()[name]
    with pytest.raises(TokenRefused) as refused:
        verifier.verify(f"Bearer {forgery}")
    message = str(refused.value)
    assert forgery[:20] not in message
    assert len(message) < 80


def test_missing_and_misshapen_headers_are_refused():
    verifier = dev_verifier()
    for header in (None, "", "Bearer", "Bearer  ", "Basic dXNlcjpwYXNz", token("crm")):
        with pytest.raises(TokenRefused):
            verifier.verify(header)


def test_a_good_token_gives_its_subject_and_roles_and_is_checked_once(monkeypatch):
    verifier = dev_verifier()
    header = f"Bearer {token('crm', 'crm-7')}"
    principal = verifier.verify(header)
    assert (principal.subject, principal.roles, principal.issuer) == ("crm-7", frozenset({"crm"}), DEV_ISSUER)
    calls = []
    original = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or original(*a, **k))
    for _ in range(100):
        assert verifier.verify(header) == principal
    assert calls == [], "a repeated token costs a lookup, not a signature check"


def test_a_cached_token_still_expires():
    verifier = dev_verifier(leeway_seconds=0)
    key = _dev_key()
    now = int(time.time())
    short = jwt.encode(
        claims(exp=now + 1, nbf=now - 5), key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]}
    )
    verifier.verify(f"Bearer {short}")
    assert verifier.cached(f"Bearer {short}") is not None
    time.sleep(max(0.0, now + 1.2 - time.time()))
    assert verifier.cached(f"Bearer {short}") is None
    with pytest.raises(TokenRefused, match="expired"):
        verifier.verify(f"Bearer {short}")


def test_leeway_is_honoured_up_to_its_setting():
    key = _dev_key()
    now = int(time.time())
    late = jwt.encode(
        claims(exp=now - 20, nbf=now - 600), key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]}
    )
    dev_verifier(leeway_seconds=30).verify(f"Bearer {late}")
    with pytest.raises(TokenRefused, match="expired"):
        dev_verifier(leeway_seconds=10).verify(f"Bearer {late}")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"algorithms": frozenset({"ES256", "HS256"})}, "asymmetric"),
        ({"algorithms": frozenset({"none"})}, "asymmetric"),
        ({"leeway_seconds": 61}, "leeway"),
    ],
)
def test_a_weak_policy_cannot_be_configured(policy, message):
    with pytest.raises(ValueError, match=message):
        TokenPolicy(**policy)


def test_keys_over_plain_http_only_on_loopback():
    Issuer("i", "a", "http://127.0.0.1:9/jwks")
    Issuer("i", "a", "https://idp.example.com/jwks")
    with pytest.raises(ValueError, match="HTTPS"):
        Issuer("i", "a", "http://idp.example.com/jwks")
    with pytest.raises(ValueError, match="HTTPS"):
        Issuer("i", "a", "http://localhost.evil.example/jwks")


@pytest.mark.parametrize(
    ("claim", "payload"),
    [
        ("realm_access.roles", {"realm_access": {"roles": ["crm", "offline_access"]}}),  # Keycloak
        ("roles", {"roles": ["crm"]}),  # Entra ID
        ("groups", {"groups": ["crm", "everyone"]}),  # Okta
        ("scope", {"scope": "openid crm"}),  # a space-separated string
    ],
)
def test_roles_come_from_the_configured_claim(claim, payload):
    issuer = Issuer(DEV_ISSUER, DEV_AUDIENCE, str(KEYS / JWKS), roles_claim=claim)
    assert "crm" in issuer.roles_of(payload)
    assert issuer.roles_of({"other": ["crm"]}) == frozenset()


def test_service_accounts_get_their_role_by_subject():
    accounts = {"system:serviceaccount:case-classifier:case-transformer": frozenset({"service"})}
    issuer = Issuer("https://kubernetes.default.svc", "case-feedback", "https://k/jwks", subject_roles=accounts)
    assert issuer.roles_of({"sub": "system:serviceaccount:case-classifier:case-transformer"}) == {"service"}
    assert issuer.roles_of({"sub": "system:serviceaccount:other:default", "roles": ["service"]}) == frozenset()


class _Jwks(BaseHTTPRequestHandler):
    document: ClassVar[dict] = {"keys": []}
    fetches = 0
    delay = 0.0

    def do_GET(self) -> None:
        type(self).fetches += 1
        time.sleep(type(self).delay)
        body = json.dumps(type(self).document).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_) -> None:
        pass


@pytest.fixture
def jwks_server():
    """A JWKS over real loopback HTTP (port 0, the server's own), its document changeable."""
    handler = type("Jwks", (_Jwks,), {"document": {"keys": []}, "fetches": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    server.shutdown()


def _signed(key: ec.EllipticCurvePrivateKey, kid: str, issuer: str = "https://idp.test") -> str:
    return jwt.encode(claims(iss=issuer), key, algorithm="ES256", headers={"kid": kid})


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(jwks_server):
    handler, url = jwks_server
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    handler.document = {"keys": [{**public_jwk(old), "kid": "old"}]}
    verifier = TokenVerifier([Issuer("https://idp.test", DEV_AUDIENCE, url)], TokenPolicy(refresh_seconds=0.5))
    verifier.verify(f"Bearer {_signed(old, 'old')}")
    assert handler.fetches == 1
    for attempt in range(20):  # made-up kids: refused, and at most one more fetch
        with pytest.raises(TokenRefused, match="key is unknown"):
            verifier.verify(f"Bearer {_signed(new, f'made-up-{attempt}')}")
    assert handler.fetches == 1, "the first fetch was too recent for another"
    # The issuer rotates: once the interval has passed, a token of the new key makes one fetch.
    handler.document = {"keys": [{**public_jwk(old), "kid": "old"}, {**public_jwk(new), "kid": "new"}]}
    time.sleep(0.6)
    assert verifier.verify(f"Bearer {_signed(new, 'new')}").subject == "crm-1"
    assert handler.fetches == 2


def test_the_async_check_fetches_off_the_event_loop(jwks_server):
    handler, url = jwks_server
    key = ec.generate_private_key(ec.SECP256R1())
    handler.document = {"keys": [{**public_jwk(key), "kid": "k"}]}
    verifier = TokenVerifier([Issuer("https://idp.test", DEV_AUDIENCE, url)], TokenPolicy())

    async def check() -> Principal:
        return await verifier.verify_async(f"Bearer {_signed(key, 'k')}")

    assert asyncio.run(check()).subject == "crm-1"


def test_requests_arriving_during_the_first_fetch_wait_for_its_keys(jwks_server):
    """A service's first requests come together: all are served by the one fetch, none refused."""
    handler, url = jwks_server
    key = ec.generate_private_key(ec.SECP256R1())
    handler.document, handler.delay = {"keys": [{**public_jwk(key), "kid": "k"}]}, 0.3
    verifier = TokenVerifier([Issuer("https://idp.test", DEV_AUDIENCE, url)], TokenPolicy(refresh_seconds=60))
    tokens = [
        f"Bearer {jwt.encode(claims(subject=f'crm-{i}', iss='https://idp.test'), key, 'ES256', {'kid': 'k'})}"
        for i in range(6)
    ]

    async def together() -> list[Principal]:
        return await asyncio.gather(*(verifier.verify_async(header) for header in tokens))

    assert [principal.subject for principal in asyncio.run(together())] == [f"crm-{i}" for i in range(6)]
    assert handler.fetches == 1


def test_a_jwks_that_cannot_be_read_refuses_tokens_and_keeps_serving(tmp_path: Path):
    verifier = TokenVerifier([Issuer(DEV_ISSUER, DEV_AUDIENCE, str(tmp_path / "missing.json"))], TokenPolicy())
    with pytest.raises(TokenRefused, match="key is unknown"):
        verifier.verify(f"Bearer {token('crm')}")


def _dev_key() -> ec.EllipticCurvePrivateKey:
    from dev.tokens import load_key

    return load_key(KEYS)


def _principal(subject: str, *roles: str) -> Principal:
    return Principal(subject, frozenset(roles), DEV_ISSUER, time.time() + 600)


def test_rates_are_per_principal_so_one_loop_never_empties_another_bucket():
    now = [0.0]
    limiter = RateLimiter(parse_rates(["crm=10", "agent=1"]), burst_seconds=2, clock=lambda: now[0])
    agent, crm = _principal("a-1", "agent"), _principal("crm-1", "crm")
    limiter.take(agent)
    limiter.take(agent)
    with pytest.raises(RateLimited) as limited:
        limiter.take(agent)
    assert limited.value.retry_after == 1
    for _ in range(20):  # the CRM's own burst is whole
        limiter.take(crm)
    now[0] += 1.0
    limiter.take(agent)  # refilled at its rate


def test_rates_must_be_positive_numbers():
    for bad in (["crm"], ["crm=0"], ["crm=-1"], ["=5"], ["crm=fast"]):
        with pytest.raises(ValueError, match="positive number"):
            parse_rates(bad)


def test_the_gate_refuses_by_role_and_lets_its_own_warmup_through():
    gate = Gate(dev_verifier(), RateLimiter({}))
    assert gate.admit_blocking(f"Bearer {token('crm')}", {"crm"}).subject == "crm-1"
    with pytest.raises(Forbidden):
        gate.admit_blocking(f"Bearer {token('agent')}", {"crm"})
    assert gate.admit_blocking(gate.internal_credential, {"crm"}).subject == "internal-warmup"
    other = Gate(dev_verifier(), RateLimiter({}))
    with pytest.raises(TokenRefused):  # another process's credential is nothing here
        other.admit_blocking(gate.internal_credential, {"crm"})
