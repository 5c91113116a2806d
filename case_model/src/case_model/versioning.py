"""Moved to :mod:`case_model.training.versioning`; this name keeps working for one release.

Training code lives in :mod:`case_model.training`, apart from what serves. Importing the old name
warns and hands over the moved module itself, so the local stack's installer keep working unchanged meanwhile.
"""

import sys
import warnings

from case_model.training import versioning as _moved

warnings.warn(
    "case_model.versioning is now case_model.training.versioning; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
