"""``python -m case_feedback`` and ``case-feedback``: the installed model package's signature is checked before
any of its code is imported (exit 3, saying why, if refused), then :mod:`case_feedback.cli` runs."""

from functools import partial

from case_signing import run_verified

main = partial(run_verified, "case_feedback.cli")

if __name__ == "__main__":
    raise SystemExit(main())
