"""``python -m case_signing.model_cli``: the ``case-model`` command, run only once the installed
model package's signature is verified (exit 3, saying why, if refused).

``python -m case_model.training.cli`` cannot check its own package: Python imports ``case_model``
(runs its ``__init__``) before ``cli`` is even found. The retraining image's entrypoint is this
module instead, which checks the package without importing it, then runs the command's ``main``
with the same arguments (``train --data ...``).

The retraining image installs a released model wheel, which may predate the move of the command
into ``case_model.training``: the command's module is chosen by the files the installed package
holds, found without importing it.
"""

from __future__ import annotations

from case_signing.signature import ProvenanceError, installed_package_dir, run_verified

#: The ``case-model`` command's module, and where wheels built before ``case_model.training`` keep it.
COMMAND_MODULE = "case_model.training.cli"
LEGACY_COMMAND_MODULE = "case_model.cli"


def command_module() -> str:
    """The installed package's ``case-model`` module; the current one when none is installed, so
    :func:`run_verified` refuses it with its own reason."""
    try:
        package = installed_package_dir()
    except ProvenanceError:
        return COMMAND_MODULE
    return COMMAND_MODULE if (package / "training" / "cli.py").is_file() else LEGACY_COMMAND_MODULE


def main(argv: list[str] | None = None) -> int:
    """Verify the installed model package, then run its ``case-model`` command."""
    return run_verified(command_module(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
