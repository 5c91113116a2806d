"""``python -m case_signing``: the ``case-signing`` command (flags and wiring in :mod:`case_signing.cli`)."""

from case_signing.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
