"""Moved to :mod:`case_model.training.cli`; ``python -m case_model.cli`` keeps working for one release.

The ``case-model`` command is ``case_model.training.cli`` now, with training apart from what serves.
Run as a script, this warns on stderr and runs the moved command with the same arguments; imported,
it warns and hands over the moved module itself.
"""

import sys
import warnings

from case_model.training import cli as _moved

if __name__ == "__main__":
    warnings.warn(
        "python -m case_model.cli is now python -m case_model.training.cli (or case-model); "
        "the old name goes in the next release",
        FutureWarning,
        stacklevel=1,
    )
    raise SystemExit(_moved.main())
warnings.warn(
    "case_model.cli is now case_model.training.cli; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
