"""``python -m case_language``, the container's entrypoint: the installed model package's signature is
checked before any of its code is imported (exit 3, saying why, if refused), then :mod:`case_language.cli` runs."""

import sys

from case_signing import run_verified

sys.exit(run_verified("case_language.cli"))
