"""``python -m case_signing.model_cli``: the ``case-model`` command, run only once the installed
model package's signature is verified (exit 3, saying why, if refused).

``python -m case_model.cli`` cannot check its own package: Python imports ``case_model`` (runs
its ``__init__``) before ``cli`` is even found. The retraining image's entrypoint is this module
instead, which checks the package without importing it, then runs :func:`case_model.cli.main`
with the same arguments (``train --data ...``).
"""

from functools import partial

from case_signing.signature import run_verified

main = partial(run_verified, "case_model.cli")

if __name__ == "__main__":
    raise SystemExit(main())
