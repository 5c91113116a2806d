"""The transformer's logic as plain functions: plan a request, build the predictor's, merge answers.

A :class:`Plan` carries one request from ``preprocess`` through ``predict`` to ``postprocess``: its
cases' :class:`case_model.CaseFlow` (cleaned texts, statuses, languages: the status decisions the
batch scorer makes with the same code) and the predictor's answers. Filtered and foreign cases
are answered from the plan alone; a plan with nothing to classify never reaches the predictor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse

from case_feedback.events import PredictionEvent, event_id
from case_model import UNKNOWN, CaseFlow, StatusRules
from case_serving import schema
from case_serving.limits import RequestLimits
from case_serving.tensors import bytes_output, fp32_output, named_inputs, top_k_outputs, wants_explanation


@dataclass
class Plan:
    """One request on its way through the transformer."""

    request_id: str
    flow: CaseFlow
    case_ids: list[str]
    explain: bool
    model_version: str | None = None
    #: ``time.perf_counter()`` when the request reached the transformer.
    started: float = 0.0
    # The answers, every case unanswered until the predictor says otherwise.
    labels: list[str] = field(init=False)
    confidences: np.ndarray = field(init=False)
    top_labels: list[list[str]] = field(init=False)
    top_probabilities: np.ndarray = field(init=False)
    explanations: list[str] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.flow.texts)
        self.labels = [""] * n
        self.confidences = np.zeros(n, dtype=np.float32)
        self.top_labels = [[""] * schema.TOP_K for _ in range(n)]
        self.top_probabilities = np.zeros((n, schema.TOP_K), dtype=np.float32)
        self.explanations = ["[]"] * n

    @property
    def texts(self) -> list[str]:
        """The cleaned texts, one per case."""
        return self.flow.texts

    @property
    def statuses(self) -> Sequence[str]:
        """Each case's status; a :class:`case_model.Status` is the string the wire carries."""
        return self.flow.statuses

    @property
    def languages(self) -> list[str]:
        """Each case's detected language (``unknown`` until detection, or when it found none)."""
        return self.flow.languages

    @property
    def classifiable(self) -> list[int]:
        """Cases whose status is still ``ok``: before detection, those waiting for it; after it,
        those the predictor must classify."""
        return self.flow.classifiable()


def text_chars(request: InferRequest) -> int:
    """Characters (or bytes) the request's ``text`` input holds; 0 when it is malformed."""
    total = 0
    for tensor in request.inputs:
        if tensor.name == schema.TEXT and isinstance(tensor.data, list):
            total += sum(len(item) for item in tensor.data if isinstance(item, str | bytes))
    return total


def plan_request(request: InferRequest, limits: RequestLimits, max_chars: int) -> Plan:
    """Decode and validate the CRM's request, clean every text and give each case its verdict.

    Raises:
        InvalidInput: anything wrong with the request, before any case is processed.
    """
    inputs = named_inputs(request, limits)
    texts = inputs[schema.TEXT]
    case_ids = inputs.get(schema.CASE_ID, [""] * len(texts))
    if len(case_ids) != len(texts):
        raise InvalidInput(f"input 'case_id' has {len(case_ids)} elements but 'text' has {len(texts)}")
    return Plan(
        request_id=request.id or "",
        flow=CaseFlow.start(texts, max_chars),
        case_ids=case_ids,
        explain=wants_explanation(request),
    )


def apply_languages(plan: Plan, indices: Sequence[int], languages: Sequence[str], rules: StatusRules) -> None:
    """Record detected languages; a known language outside the supported ones is not classified."""
    plan.flow.record_languages(indices, languages, rules)


def predictor_request(texts: list[str], model_name: str, request_id: str, explain: bool) -> InferRequest:
    """The request for the predictor: cleaned texts of one or more plans."""
    parameters = {schema.EXPLAIN_PARAMETER: True} if explain else None
    return InferRequest(
        model_name=model_name,
        request_id=request_id,
        infer_inputs=[InferInput(schema.TEXT, [len(texts)], "BYTES", texts)],
        parameters=parameters,
    )


@dataclass(frozen=True)
class Answers:
    """The predictor's answers for a batch of texts, decoded once; plans take slices of it."""

    labels: list[str]
    confidences: list[float]
    top_labels: list[str]  # flat, TOP_K per text
    top_probabilities: list[float]  # flat, TOP_K per text
    explanations: list[str]
    model_version: str | None


def _values(response: InferResponse, name: str) -> list[Any]:
    output = response.get_output_by_name(name)
    if output is None:
        return []
    values = output.as_numpy().ravel().tolist()
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]


def decode_answers(response: InferResponse, n: int) -> Answers:
    """Decode the predictor's response to ``n`` texts, checking it answered all of them."""
    answers = Answers(
        labels=_values(response, schema.LABEL),
        confidences=_values(response, schema.CONFIDENCE),
        top_labels=_values(response, schema.TOP_LABELS),
        top_probabilities=_values(response, schema.TOP_PROBABILITIES),
        explanations=_values(response, schema.EXPLANATION),
        model_version=response.model_version or _parameter(response, schema.MODEL_VERSION_PARAMETER),
    )
    k = schema.TOP_K
    if not (len(answers.labels) == len(answers.confidences) == n and len(answers.top_labels) == n * k):
        raise ValueError(f"predictor answered {len(answers.labels)} cases for {n}")
    return answers


def apply_predictions(plan: Plan, answers: Answers, part: slice, rules: StatusRules) -> None:
    """Take the answers in ``part`` for the plan's classifiable cases; flag the unsure ones."""
    k = schema.TOP_K
    classified = plan.classifiable
    for j, i in enumerate(classified, start=part.start):
        plan.labels[i] = answers.labels[j]
        plan.confidences[i] = answers.confidences[j]
        plan.top_labels[i] = answers.top_labels[j * k : (j + 1) * k]
        plan.top_probabilities[i] = answers.top_probabilities[j * k : (j + 1) * k]
        if j < len(answers.explanations):
            plan.explanations[i] = answers.explanations[j]
    plan.flow.record_confidences(classified, answers.confidences[part], rules)
    plan.model_version = answers.model_version


def _parameter(response: InferResponse, name: str) -> str | None:
    value: Any = (response.parameters or {}).get(name)
    if hasattr(value, "string_param"):  # a gRPC InferParameter
        value = value.string_param
    return str(value) if value else None


def response_for(plan: Plan, model_name: str, model_version: str | None) -> InferResponse:
    """The CRM's answer, every case in its original order."""
    outputs: list[InferOutput] = [
        bytes_output(schema.LABEL, plan.labels),
        fp32_output(schema.CONFIDENCE, plan.confidences),
        bytes_output(schema.STATUS, plan.statuses),
        bytes_output(schema.LANGUAGE, plan.languages),
        *top_k_outputs(schema.TOP_LABELS, schema.TOP_PROBABILITIES, plan.top_labels, plan.top_probabilities),
        bytes_output(schema.CASE_ID, plan.case_ids),
    ]
    if plan.explain:
        outputs.append(bytes_output(schema.EXPLANATION, plan.explanations))
    return InferResponse(
        response_id=plan.request_id,
        model_name=model_name,
        model_version=plan.model_version or model_version,
        infer_outputs=outputs,
    )


def prediction_events(plan: Plan, model_version: str | None, now: float) -> list[PredictionEvent]:
    """The prediction log's events for a plan: every case answered, with the cleaned, PII-masked
    text the model saw (the raw text never leaves the request)."""
    version = plan.model_version or model_version or UNKNOWN
    probabilities = plan.top_probabilities.tolist()
    statuses = plan.statuses
    events = []
    for i, text in enumerate(plan.texts):
        top = [label for label in plan.top_labels[i] if label]  # unclassified cases have none
        events.append(
            PredictionEvent(
                case_id=plan.case_ids[i] or None,
                request_id=plan.request_id,
                event_id=event_id(plan.request_id, i, plan.case_ids[i], text),
                model_version=version,
                label=plan.labels[i],
                confidence=float(plan.confidences[i]),
                status=statuses[i],
                language=plan.languages[i],
                top_labels=top,
                top_probabilities=probabilities[i][: len(top)],
                text=text,
                predicted_at=now,
                source="online",
            )
        )
    return events
