"""``python -m case_rollout``: the ``case-rollout`` command (flags and wiring in :mod:`case_rollout.cli`)."""

from case_rollout.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
