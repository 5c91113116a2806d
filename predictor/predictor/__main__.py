"""``python -m predictor``, the container's entrypoint: the installed model package's signature is
checked before any of its code is imported (exit 3, saying why, if refused), then :mod:`predictor.cli` runs."""

from functools import partial

from case_signing import run_verified

main = partial(run_verified, "predictor.cli")

if __name__ == "__main__":
    raise SystemExit(main())
