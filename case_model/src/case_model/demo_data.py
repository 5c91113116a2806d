"""Moved to :mod:`case_model.training.demo_data`; this name keeps working for one release.

Training code lives in :mod:`case_model.training`, apart from what serves. Importing the old name
warns and hands over the moved module itself, so the benchmarks and tests that generate synthetic cases keep
working unchanged meanwhile.
"""

import sys
import warnings

from case_model.training import demo_data as _moved

warnings.warn(
    "case_model.demo_data is now case_model.training.demo_data; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
