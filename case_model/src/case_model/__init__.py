"""case_model: the case classifier and the text steps around it, as one versioned wheel."""

from case_model._version import __version__
from case_model.artifact import MODEL_NAME, ArtifactError, load, read_metadata, verify
from case_model.case_filter import filter_status
from case_model.classifier import CaseClassifier, Predictions
from case_model.flow import CaseFlow
from case_model.language import UNKNOWN, Detection, LocalDetector, has_real_words
from case_model.pii import mask_pii
from case_model.prepare import Prepared, prepare, prepare_many
from case_model.status import Status, StatusRules
from case_model.text import clean_text

#: The case status and its filter under their names before ``Status``, kept for one release.
Verdict = Status
filter_verdict = filter_status

__all__ = [
    "MODEL_NAME",
    "UNKNOWN",
    "ArtifactError",
    "CaseClassifier",
    "CaseFlow",
    "Detection",
    "LocalDetector",
    "Predictions",
    "Prepared",
    "Status",
    "StatusRules",
    "Verdict",
    "__version__",
    "clean_text",
    "filter_status",
    "filter_verdict",
    "has_real_words",
    "load",
    "mask_pii",
    "prepare",
    "prepare_many",
    "read_metadata",
    "verify",
]
