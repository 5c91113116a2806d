"""``python -m case_language``, the container's entrypoint: the installed model package's signature is
checked before any of its code is imported (exit 3, saying why, if refused), then :mod:`case_language.cli` runs."""

from functools import partial

from case_signing import run_verified

main = partial(run_verified, "case_language.cli")

if __name__ == "__main__":
    raise SystemExit(main())
