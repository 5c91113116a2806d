"""Inputs and outputs of the transformer (the CRM's contract) and of the predictor behind it.

The model-metadata endpoints return exactly these lists, so a V2 client can discover the contract.
"""

from __future__ import annotations

from case_model.classifier import TOP_K

__all__ = [
    "CASE_ID",
    "CONFIDENCE",
    "EXPLAIN_PARAMETER",
    "EXPLANATION",
    "LABEL",
    "LANGUAGE",
    "MODEL_VERSION_PARAMETER",
    "PREDICTOR_INPUTS",
    "PREDICTOR_OUTPUTS",
    "STATUS",
    "TEXT",
    "TOP_K",
    "TOP_LABELS",
    "TOP_PROBABILITIES",
    "TRANSFORMER_INPUTS",
    "TRANSFORMER_OUTPUTS",
    "names",
]

TEXT = "text"
CASE_ID = "case_id"
LABEL = "label"
CONFIDENCE = "confidence"
STATUS = "status"
LANGUAGE = "language"
TOP_LABELS = "top_labels"
TOP_PROBABILITIES = "top_probabilities"
EXPLANATION = "explanation"
#: Request parameter asking for the explanation output.
EXPLAIN_PARAMETER = "explain"
#: Response parameter carrying the model version (see predictor/model.py).
MODEL_VERSION_PARAMETER = "model_version"


def _tensor(name: str, datatype: str, shape: list[int]) -> dict[str, object]:
    return {"name": name, "datatype": datatype, "shape": shape}


def names(tensors: list[dict[str, object]]) -> tuple[str, ...]:
    """The names of a model's declared inputs or outputs, in order."""
    return tuple(str(tensor["name"]) for tensor in tensors)


PREDICTOR_INPUTS = [_tensor(TEXT, "BYTES", [-1])]
PREDICTOR_OUTPUTS = [
    _tensor(LABEL, "BYTES", [-1]),
    _tensor(CONFIDENCE, "FP32", [-1]),
    _tensor(TOP_LABELS, "BYTES", [-1, TOP_K]),
    _tensor(TOP_PROBABILITIES, "FP32", [-1, TOP_K]),
    _tensor(EXPLANATION, "BYTES", [-1]),
]
TRANSFORMER_INPUTS = [_tensor(TEXT, "BYTES", [-1]), _tensor(CASE_ID, "BYTES", [-1])]
TRANSFORMER_OUTPUTS = [
    _tensor(LABEL, "BYTES", [-1]),
    _tensor(CONFIDENCE, "FP32", [-1]),
    _tensor(STATUS, "BYTES", [-1]),
    _tensor(LANGUAGE, "BYTES", [-1]),
    _tensor(TOP_LABELS, "BYTES", [-1, TOP_K]),
    _tensor(TOP_PROBABILITIES, "FP32", [-1, TOP_K]),
    _tensor(CASE_ID, "BYTES", [-1]),
    _tensor(EXPLANATION, "BYTES", [-1]),
]
