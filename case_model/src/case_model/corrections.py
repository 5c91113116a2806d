"""Moved to :mod:`case_model.training.corrections`; this name keeps working for one release.

Training code lives in :mod:`case_model.training`, apart from what serves. Importing the old name
warns and hands over the moved module itself, so callers that read agents' corrections keep working unchanged meanwhile.
"""

import sys
import warnings

from case_model.training import corrections as _moved

warnings.warn(
    "case_model.corrections is now case_model.training.corrections; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
