"""Tokens for tests: the development issuer's (``make keys``), which the test stacks trust.

``bearer("crm")`` is the header a CRM sends; each role has a subject of its own unless one is
given. Tokens last three hours, longer than a session.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER
from dev.tokens import KEYS, PRIVATE, keygen, load_key, mint, public_jwk, write_token

__all__ = ["bearer", "claims", "ensure_issuer", "forged", "token", "write_token"]


def ensure_issuer() -> None:
    """The development issuer's key pair, made once if ``make keys`` has not made it."""
    if not (KEYS / PRIVATE).exists():
        keygen(KEYS)


@functools.cache
def token(role: str, subject: str | None = None) -> str:
    """A token of ``role`` (comma-separated for several) for ``subject`` (default ``<role>-1``)."""
    ensure_issuer()
    return mint(role.split(","), subject or f"{role.replace(',', '-')}-1", 3 * 3600)


def bearer(role: str = "crm", subject: str | None = None) -> dict[str, str]:
    """The ``Authorization`` header of :func:`token`."""
    return {"Authorization": f"Bearer {token(role, subject)}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def claims(role: str = "crm", subject: str = "crm-1", **changes) -> dict:
    """Claims the stacks accept, with ``changes`` applied."""
    now = int(time.time())
    base = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": subject, "iat": now, "nbf": now, "exp": now + 600}
    return {**base, "roles": [role], **changes}


def forged() -> dict[str, str]:
    """Tokens every check must refuse (401), by what is wrong with them; built fresh each call."""
    key = load_key(KEYS)
    kid = public_jwk(key)["kid"]
    good = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": kid})
    head, payload, signature = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[5] ^= 0x01
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims())
    hs_signature = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    return {
        "malformed": "not.a-token",
        "64 KB": "A" * 65_536,
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, claims()) + ".",
        "HS256 with the public key": f"{hs_input}.{hs_signature}",
        "wrong issuer": jwt.encode(claims(iss="https://evil.example"), key, algorithm="ES256", headers={"kid": kid}),
        "wrong audience": jwt.encode(claims(aud="someone-else"), key, algorithm="ES256", headers={"kid": kid}),
        "expired": jwt.encode(claims(exp=now - 300, nbf=now - 900), key, algorithm="ES256", headers={"kid": kid}),
        "not yet valid": jwt.encode(
            claims(nbf=now + 600, exp=now + 1200), key, algorithm="ES256", headers={"kid": kid}
        ),
        "unknown kid": jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "no-such-key"}),
        "flipped signature byte": f"{head}.{payload}.{_b64(bytes(raw))}",
        "another issuer's key": jwt.encode(claims(), stranger, algorithm="ES256", headers={"kid": kid}),
        "no exp": jwt.encode(
            {k: v for k, v in claims().items() if k != "exp"}, key, algorithm="ES256", headers={"kid": kid}
        ),
    }
