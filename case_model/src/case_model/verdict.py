"""Old home of the case status and its filter, kept for one release.

The case status is :class:`case_model.status.Status` (``status`` on the wire) and the filter
:func:`case_model.case_filter.filter_status`; ``Verdict`` now names only the canary decision
(:mod:`case_rollout.analysis`). Importing this module warns and gives the same objects.
"""

import warnings

from case_model.case_filter import filter_status as filter_verdict
from case_model.status import Status as Verdict

__all__ = ["Verdict", "filter_verdict"]

warnings.warn(
    "case_model.verdict is now case_model.status.Status and case_model.case_filter.filter_status; "
    "the old names go in the next release",
    DeprecationWarning,
    stacklevel=2,
)
