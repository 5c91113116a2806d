"""The development token issuer: a key pair in ``.keys/`` and tokens the local stack trusts.

On a cluster the CRM's identity provider issues tokens and Kubernetes issues the services' own;
here ``make keys`` makes an ES256 key pair beside the development signing key, publishes its
public half as a JWKS file (the services' default ``*_AUTH_JWKS_URL``), and ``make token ROLE=..
SUBJECT=..`` signs a one-hour token with it. Nothing here is shipped in an image.

    python -m dev.tokens keygen .keys
    python -m dev.tokens mint --role crm --subject crm-1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from case_serving.settings import DEV_AUDIENCE, DEV_ISSUER

ROOT = Path(__file__).resolve().parents[1]
KEYS = ROOT / ".keys"
PRIVATE = "token-issuer.key"
JWKS = "token-issuer.jwks.json"


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public half as a JWK, its ``kid`` the RFC 7638 thumbprint (stable for one key)."""
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    thumbprint = jwt.utils.base64url_encode(
        hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    )
    return {**jwk, "kid": thumbprint.decode(), "alg": "ES256", "use": "sig"}


def keygen(directory: Path) -> tuple[Path, Path]:
    """Write a new key pair (the private key 0600) and its JWKS into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / PRIVATE
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    jwks = directory / JWKS
    jwks.write_text(json.dumps({"keys": [public_jwk(key)]}, indent=2) + "\n", encoding="utf-8")
    return private, jwks


def load_key(directory: Path = KEYS) -> ec.EllipticCurvePrivateKey:
    """The development issuer's private key."""
    key = serialization.load_pem_private_key((directory / PRIVATE).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{directory / PRIVATE} is not an EC key")
    return key


def mint(
    roles: Sequence[str],
    subject: str,
    lifetime_seconds: float = 3600,
    directory: Path = KEYS,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    **claims: Any,
) -> str:
    """A token of the development issuer for ``subject`` with ``roles``, valid from now."""
    key = load_key(directory)
    now = int(time.time())
    payload = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + int(lifetime_seconds),
        "roles": list(roles),
        **claims,
    }
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]})


def write_token(
    path: Path, roles: Sequence[str], subject: str, lifetime_seconds: float, directory: Path = KEYS
) -> None:
    """Write a token to ``path`` (0600) as kubelet writes a projected one: whole, by a rename, so a
    reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(mint(roles, subject, lifetime_seconds, directory))
    os.replace(partial, path)


def main(argv: Sequence[str] | None = None) -> int:
    """``keygen DIR`` or ``mint --role R --subject S``."""
    parser = argparse.ArgumentParser(prog="python -m dev.tokens", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("keygen", help="write a development issuer key pair and its JWKS")
    make.add_argument("directory", type=Path)
    sign = commands.add_parser("mint", help="print a token the local stack trusts")
    sign.add_argument("--role", required=True, help="the role (comma-separated for several)")
    sign.add_argument("--subject", required=True, help="who the token names (sub)")
    sign.add_argument("--lifetime-seconds", type=float, default=3600)
    sign.add_argument("--keys", type=Path, default=KEYS)
    args = parser.parse_args(argv)
    if args.command == "keygen":
        private, jwks = keygen(args.directory)
        print(f"wrote {private} (keep it secret) and {jwks}", file=sys.stderr)
        return 0
    if not (args.keys / PRIVATE).exists():
        raise SystemExit(f"no development issuer key in {args.keys}: run make keys")
    roles = [role.strip() for role in args.role.split(",") if role.strip()]
    print(mint(roles, args.subject, args.lifetime_seconds, args.keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
