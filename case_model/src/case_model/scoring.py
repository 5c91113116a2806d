"""Old name of :mod:`case_model.linear_model`, kept for one release.

``scoring`` is the batch scorer's word (:mod:`case_batch.scoring`); the model's module says it is
the model. Importing the old name warns and hands over the moved module itself.
"""

import sys
import warnings

from case_model import linear_model as _moved

warnings.warn(
    "case_model.scoring is now case_model.linear_model; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
