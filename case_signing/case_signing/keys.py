"""Where the keys are: configuration for the public key, a secret for the private one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The public key (PEM file) that every service, job and image build verifies with.
PUBLIC_KEY_ENV = "MODEL_SIGNING_PUBLIC_KEY"
#: The private key (PEM file) the release signs with; a secret of the pipeline, never in the repository.
PRIVATE_KEY_ENV = "MODEL_SIGNING_KEY"


class KeyPinnedError(RuntimeError):
    """Another public key was named where the image fixes the release key."""


def image_key_path() -> Path:
    """Where an image keeps the release key's public half, written into its virtualenv at build
    time by ``docker/install.sh``, root-owned on a read-only filesystem. A key that anyone allowed
    to edit a ConfigMap or an environment variable could swap would make the signature check
    theirs; this one changes only with a new image."""
    return Path(sys.prefix) / "share" / "case-classifier" / "model-signing.pub"


def public_key_path(value: str | os.PathLike[str] | None = None) -> Path:
    """The public key to verify with: the image's own (:func:`image_key_path`) where there is one,
    else ``value``, else ``$MODEL_SIGNING_PUBLIC_KEY`` (a development or CI environment).

    Raises:
        FileNotFoundError: no key is set, or the file does not exist. There is no unsigned mode.
        KeyPinnedError: the image fixes its key and ``value`` or the environment names another.
    """
    chosen = value or os.environ.get(PUBLIC_KEY_ENV)
    pinned = image_key_path()
    if pinned.is_file():
        if chosen and not _same_key(Path(chosen), pinned):
            raise KeyPinnedError(
                f"the release key is fixed in this image ({pinned}); {chosen} ({PUBLIC_KEY_ENV} or --public-key)"
                " is another key or no key file: the image verifies with its own key only"
            )
        return pinned
    if not chosen:
        raise FileNotFoundError(
            f"no model signing public key: set {PUBLIC_KEY_ENV} to the release key's public half (a PEM file)"
        )
    path = Path(chosen)
    if not path.is_file():
        raise FileNotFoundError(f"model signing public key {path} does not exist ({PUBLIC_KEY_ENV})")
    return path


def _same_key(candidate: Path, pinned: Path) -> bool:
    try:
        return candidate.read_bytes().strip() == pinned.read_bytes().strip()
    except OSError:
        return False


def generate_key_pair(directory: Path, name: str = "model-signing") -> tuple[Path, Path]:
    """A new P-256 key pair as ``<name>.key`` (mode 0600) and ``<name>.pub`` in ``directory``.

    For development and tests; a release key is made once by its owner and kept in the secret store.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    private.touch(mode=0o600)
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public
