"""case_signing: the model wheel's origin, proven before anything imports or loads it.

The model wheel (``case_model``) carries code that every service imports and an artifact the
predictor and the batch job load. Digests recorded inside the wheel prove nothing about who built
it: a forger recomputes them. So the release signs the package with its private key (Sigstore
bundles via ``model-signing``, offline, an elliptic-curve key pair), and everything that runs the
model checks the signature with the public key first:

* the image build, on the downloaded wheel file, before ``pip install`` (:func:`verify_wheel`);
* every service and job, on the installed package, before importing it (:func:`run_verified`,
  :func:`verify_installed`), the retraining job included (``python -m case_signing.model_cli``);
* every Ray worker of the batch job, as it starts (:func:`verify_worker`, Ray's
  ``worker_process_setup_hook``);
* the predictor and the batch job, on an artifact directory given with ``--model-dir``
  (:func:`verify_directory`);
* the retraining job, on the champion wheel it scores against.

This package is installed from the repository, never from the model index, so a forged model
wheel cannot replace the code that judges it. The public key is configuration
(``MODEL_SIGNING_PUBLIC_KEY``, a file path); the private key is a secret of the release pipeline
(``MODEL_SIGNING_KEY``) and never enters the repository or an image.
"""

from case_signing.keys import (
    PRIVATE_KEY_ENV,
    PUBLIC_KEY_ENV,
    KeyPinnedError,
    generate_key_pair,
    image_key_path,
    public_key_path,
)
from case_signing.signature import (
    SIGNATURE_FILE,
    WORKER_SETUP_HOOK,
    ProvenanceError,
    installed_package_dir,
    run_verified,
    sign_directory,
    verify_directory,
    verify_installed,
    verify_wheel,
    verify_worker,
)

__all__ = [
    "PRIVATE_KEY_ENV",
    "PUBLIC_KEY_ENV",
    "SIGNATURE_FILE",
    "WORKER_SETUP_HOOK",
    "KeyPinnedError",
    "ProvenanceError",
    "generate_key_pair",
    "image_key_path",
    "installed_package_dir",
    "public_key_path",
    "run_verified",
    "sign_directory",
    "verify_directory",
    "verify_installed",
    "verify_wheel",
    "verify_worker",
]
