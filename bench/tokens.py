"""Tokens for the benchmark's load: the development issuer's (``make keys``), which every stack
``dev.stack.Stack`` starts trusts.

The transformer refuses an inference without a CRM's token, and the feedback service refuses a
prediction log without a service token; the load generators send the one, the transformer
presents the other. Both last three hours, longer than any run.
"""

from __future__ import annotations

from pathlib import Path

from dev.tokens import KEYS, PRIVATE, keygen, mint, write_token

#: Seconds a benchmark token lasts: longer than a whole ``make bench`` or a ten-minute soak.
LIFETIME = 3 * 3600


def ensure_issuer() -> None:
    """The development issuer's key pair, made once if ``make keys`` has not made it."""
    if not (KEYS / PRIVATE).exists():
        keygen(KEYS)


def crm_headers() -> dict[str, str]:
    """The ``Authorization`` header of a CRM's token, as the load generators send it."""
    ensure_issuer()
    return {"Authorization": f"Bearer {mint(['crm'], 'bench', LIFETIME)}"}


def service_token_file(directory: Path) -> Path:
    """A service token in ``directory``, for the transformer's prediction log to present."""
    ensure_issuer()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "service-token"
    write_token(path, ["service"], "bench-transformer", LIFETIME)
    return path
