"""Who is calling: bearer tokens (JWT) checked against the issuer's published keys (JWKS).

Every call that reads or changes case data carries ``Authorization: Bearer <JWT>``. The signature
check is PyJWT's (no crypto of ours); what this module adds is the policy around it:

- only asymmetric algorithms from an allow-list (so ``alg: none`` and an HS256 token "signed"
  with the public key as its secret are refused before any key is looked at);
- ``iss`` and ``aud`` exact, ``exp`` required, ``nbf`` honoured, a leeway of at most 60 s;
- the keys come from the issuer's JWKS (a URL, or a file for the development issuer); a token
  whose ``kid`` is unknown makes the keys be fetched again, at most once per
  ``refresh_seconds``, so a stream of made-up kids cannot turn into a stream of fetches;
- a token that verified is cached until it expires (bounded), so a client that repeats its
  token costs a dictionary lookup, not a signature check;
- the roles come from a configurable claim (Keycloak ``realm_access.roles``, Entra ID
  ``roles``, Okta ``groups``); a second issuer, Kubernetes' own for projected service-account
  tokens, maps named service accounts to roles instead.

Refusals say which check failed and nothing more (:class:`TokenRefused`); the token itself is
never logged or echoed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import ssl
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

log = logging.getLogger("case_serving.tokens")

#: Algorithms that may ever be allowed: asymmetric only. A shared-secret algorithm (HS*) would let
#: anyone holding the *public* key sign; ``none`` signs nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: The most clock skew tolerated on ``exp``/``nbf``/``iat``.
MAX_LEEWAY_SECONDS = 60.0
#: Longer tokens are refused unread: real ones are 1-2 KB; parsing 64 KB of base64 per request
#: is a cheap way to burn the server's CPU.
MAX_TOKEN_CHARS = 8192
#: Subjects are stored in audit records (and as agents); longer ones are refused.
MAX_SUBJECT_CHARS = 128
#: A JWKS holds a few keys; more than this is not one.
MAX_JWKS_BYTES = 1 << 20


class TokenRefused(Exception):
    """The caller is not authenticated (401). ``str()`` names the check that failed, nothing more."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: who (``subject``, qualified by ``issuer``) and what it may do."""

    subject: str
    roles: frozenset[str]
    issuer: str
    expires_at: float

    @property
    def name(self) -> str:
        """How audit records and logs name the caller."""
        return self.subject


@dataclass(frozen=True)
class Issuer:
    """One identity provider we trust, and how its tokens say what the caller may do.

    Args:
        issuer: The exact ``iss``.
        audience: The exact ``aud`` our tokens carry (one of a list is enough).
        jwks_url: Where the issuer publishes its keys: ``https://...`` (``http://`` on loopback
            only), or a file path (the development issuer's, made by ``make keys``).
        roles_claim: Dotted path of the claim holding the roles (``realm_access.roles``).
        subject_roles: Roles granted by subject instead of by claim (Kubernetes service accounts:
            ``system:serviceaccount:<ns>:<name>`` -> ``{"service"}``); used when not empty.
        jwks_token_file: A bearer token for the JWKS fetch, read at each fetch (it rotates).
        jwks_ca_file: The CA bundle that signs the JWKS URL's certificate.
    """

    issuer: str
    audience: str
    jwks_url: str
    roles_claim: str = "roles"
    subject_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: A file holding a bearer token for the JWKS fetch (Kubernetes' endpoint wants the pod's own).
    jwks_token_file: str = ""
    #: CA bundle for the JWKS URL (the cluster's CA for Kubernetes'); empty: the system's.
    jwks_ca_file: str = ""

    def __post_init__(self) -> None:
        scheme, host = urlsplit(self.jwks_url).scheme, urlsplit(self.jwks_url).hostname or ""
        if scheme == "http" and not _loopback(host):
            raise ValueError(f"the JWKS of {self.issuer} must be fetched over HTTPS (plain HTTP on loopback only)")

    def roles_of(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The caller's roles: by subject for a service-account issuer, else from the roles claim."""
        if self.subject_roles:
            return self.subject_roles.get(str(claims.get("sub", "")), frozenset())
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(item for item in value if isinstance(item, str))
        return frozenset()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_jwks(issuer: Issuer, timeout_seconds: float) -> dict[str, Any]:
    """The JWKS document of ``issuer`` (URL or file)."""
    location = issuer.jwks_url
    if location.startswith(("https://", "http://")):
        request = urllib.request.Request(location, headers={"Accept": "application/json"})  # noqa: S310 (https/http only)
        if issuer.jwks_token_file:
            token = Path(issuer.jwks_token_file).read_text(encoding="utf-8").strip()
            request.add_header("Authorization", f"Bearer {token}")
        # https, or http on loopback only: checked by Issuer.__post_init__
        context = ssl.create_default_context(cafile=issuer.jwks_ca_file or None)
        with urllib.request.urlopen(request, timeout=timeout_seconds, context=context) as response:  # noqa: S310  # nosec B310
            document = json.loads(response.read(MAX_JWKS_BYTES + 1)[:MAX_JWKS_BYTES])
    else:
        document = json.loads(Path(location).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    return document


class IssuerKeys:
    """One issuer's signing keys by ``kid``, fetched at first use, again when an unknown ``kid``
    shows up (at most once per ``refresh_seconds``) and when older than ``max_age_seconds``."""

    def __init__(
        self,
        issuer: Issuer,
        algorithms: frozenset[str],
        refresh_seconds: float,
        max_age_seconds: float = 3600.0,
        timeout_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.algorithms = algorithms
        self.refresh_seconds = refresh_seconds
        self.max_age_seconds = max_age_seconds
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: float | None = None
        self.attempted_at: float | None = None
        self.fetches = 0
        self._lock = threading.Lock()

    def known(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid`` if it is held and the set is fresh; no fetch."""
        if self.fetched_at is None or self.clock() - self.fetched_at > self.max_age_seconds:
            return None
        return self.keys.get(kid)

    def may_fetch(self) -> bool:
        """Whether a fetch is due: never fetched, stale, or the last attempt long enough ago."""
        return self.attempted_at is None or self.clock() - self.attempted_at >= self.refresh_seconds

    def worth_fetching(self) -> bool:
        """Whether to call :meth:`fetch` for a key not held: a fetch is due, or one is under way.

        Waiting for a fetch under way gives its keys: the first requests after a start arrive
        together, and those behind the one that started the fetch would otherwise be refused as
        naming an unknown key (a fetch is never due twice within ``refresh_seconds``).
        """
        return self.may_fetch() or self._lock.locked()

    def fetch(self) -> None:
        """Read the JWKS again (blocking: call it off the event loop). Keys of other algorithms,
        other uses and unparseable entries are skipped; a failed fetch keeps the keys held."""
        with self._lock:
            if not self.may_fetch():
                return
            self.attempted_at = self.clock()
            self.fetches += 1
            try:
                document = _read_jwks(self.issuer, self.timeout_seconds)
            except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
                log.warning("JWKS fetch failed", extra={"issuer": self.issuer.issuer, "error": type(error).__name__})
                return
            keys: dict[str, jwt.PyJWK] = {}
            for entry in document["keys"]:
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "kid" not in entry:
                    continue
                try:
                    key = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue
                if key.algorithm_name in self.algorithms:
                    keys[str(entry["kid"])] = key
            self.keys = keys
            self.fetched_at = self.clock()


@dataclass(frozen=True)
class TokenPolicy:
    """How tokens are checked, whatever their issuer."""

    algorithms: frozenset[str] = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
    leeway_seconds: float = 30.0
    refresh_seconds: float = 30.0
    cache_size: int = 10_000

    def __post_init__(self) -> None:
        weak = sorted(self.algorithms - ASYMMETRIC_ALGORITHMS)
        if weak:
            raise ValueError(f"only asymmetric algorithms may be allowed, not {', '.join(weak)}")
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"the leeway must be between 0 and {MAX_LEEWAY_SECONDS:.0f} seconds")


class TokenVerifier:
    """Turns an ``Authorization`` header into a :class:`Principal`, or refuses it.

    Args:
        issuers: The trusted issuers; a token names its own with ``iss``.
        policy: Algorithms, leeway, refetch interval, cache size.
        clock: Wall clock (seconds since the epoch), for ``exp`` and the cache.
    """

    def __init__(self, issuers: Sequence[Issuer], policy: TokenPolicy, clock: Callable[[], float] = time.time) -> None:
        if not issuers:
            raise ValueError("authentication needs at least one trusted issuer")
        self.policy = policy
        self.clock = clock
        self.keys = {issuer.issuer: IssuerKeys(issuer, policy.algorithms, policy.refresh_seconds) for issuer in issuers}
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    def cached(self, header: str | None) -> Principal | None:
        """The principal of a token verified before and not yet expired; no other work."""
        if header is None:
            return None
        principal = self._verified.get(header)
        if principal is None:
            return None
        if principal.expires_at + self.policy.leeway_seconds <= self.clock():
            self._verified.pop(header, None)
            return None
        return principal

    def verify(self, header: str | None) -> Principal:
        """The caller behind ``header`` (blocking when the issuer's keys must be fetched).

        Raises:
            TokenRefused: naming the check that failed.
        """
        principal = self.cached(header)
        if principal is not None:
            return principal
        token, keys, kid = self._locate(header)
        if keys.known(kid) is None and keys.worth_fetching():
            keys.fetch()
        return self._check(header or "", token, keys, kid)

    async def verify_async(self, header: str | None) -> Principal:
        """As :meth:`verify`, with any JWKS fetch run in a thread so the event loop keeps serving."""
        principal = self.cached(header)
        if principal is not None:
            return principal
        token, keys, kid = self._locate(header)
        if keys.known(kid) is None and keys.worth_fetching():
            await asyncio.to_thread(keys.fetch)
        return self._check(header or "", token, keys, kid)

    def _locate(self, header: str | None) -> tuple[str, IssuerKeys, str]:
        """The token, its issuer's keys and its ``kid``, from the unverified header and claims."""
        if not header:
            raise TokenRefused("a bearer token is required")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRefused("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            head = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRefused("the token is malformed") from None
        algorithm = head.get("alg")
        if algorithm not in self.policy.algorithms:
            raise TokenRefused("the token's algorithm is not allowed")
        issuer = unverified.get("iss")
        keys = self.keys.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise TokenRefused("the token's issuer is not trusted")
        kid = head.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("the token names no key (kid)")
        return token, keys, kid

    def _check(self, header: str, token: str, keys: IssuerKeys, kid: str) -> Principal:
        key = keys.known(kid)
        if key is None:
            raise TokenRefused("the token's key is unknown to its issuer")
        issuer = keys.issuer
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=self.policy.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"], "strict_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("the token's issuer is not trusted") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRefused(f"the token has no '{error.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise TokenRefused("the token does not verify") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS or not subject.isprintable():
            raise TokenRefused(f"the token's subject must be 1 to {MAX_SUBJECT_CHARS} printable characters")
        principal = Principal(claims["sub"], issuer.roles_of(claims), issuer.issuer, float(claims["exp"]))
        self._remember(header, principal)
        return principal

    def _remember(self, header: str, principal: Principal) -> None:
        self._verified[header] = principal
        if len(self._verified) > self.policy.cache_size:
            self._verified.popitem(last=False)
