"""Training: read cases, apply agents' corrections, fit, evaluate, and gate on quality.

Kept apart from serving: nothing here is imported by the predictor, transformer or batch job.
Needs the ``train`` extra (pandas, pyarrow, matplotlib).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from case_model.classifier import CaseClassifier, build_pipeline
from case_model.prepare import prepare_many
from case_model.status import Status
from case_model.training.agent_influence import AgentLimits, AgentReport, limit_agents
from case_model.training.corrections import CorrectionCounts, apply_corrections

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

REQUIRED_COLUMNS = ("case_id", "text", "label")


class DataError(ValueError):
    """An input file is unreadable or lacks the columns training needs."""


class QualityGateError(RuntimeError):
    """The trained model is not good enough to be shipped."""


def read_table(path: Path, columns: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read a CSV or Parquet file and check that it has ``columns``.

    Raises:
        DataError: unknown format, unreadable file, or missing columns.
    """
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        else:
            raise DataError(f"{path}: expected a .csv, .tsv or .parquet file")
    except (OSError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot read: {error}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}")
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the training rows (id, text, label), independent of row order."""
    digest = hashlib.sha256()
    rows = sorted(zip(frame["case_id"].astype(str), frame["text"].astype(str), frame["label"].astype(str), strict=True))
    for row in rows:
        digest.update("\x1f".join(row).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def classifiable(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Clean every text and keep those the service would classify, with their labels."""
    prepared = prepare_many(frame["text"].astype(str))
    keep = [i for i, p in enumerate(prepared) if p.status is Status.OK]
    labels = frame["label"].astype(str).tolist()
    return [prepared[i].text for i in keep], [labels[i] for i in keep]


@dataclass
class Evaluation:
    """Validation-set quality of a fitted pipeline."""

    macro_f1: float
    accuracy: float
    per_class: dict[str, dict[str, float]]
    labels: list[str]
    confusion: list[list[int]]
    n_validation: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the model metadata."""
        return {
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "per_class": self.per_class,
            "n_validation": self.n_validation,
        }


def evaluate(classifier: CaseClassifier, texts: list[str], labels: list[str]) -> Evaluation:
    """Macro-F1, accuracy, per-class precision/recall and the confusion matrix.

    Scored by the classifier as it will be served (the saved scorer, not the training pipeline),
    so the figures in the metadata and the champion comparison are the served model's.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    predicted = classifier.predict(texts).labels
    classes = sorted(set(labels) | set(classifier.classes))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    return Evaluation(
        macro_f1=round(float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)), 4),
        accuracy=round(float(accuracy_score(labels, predicted)), 4),
        per_class={
            c: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        labels=classes,
        confusion=confusion_matrix(labels, predicted, labels=classes).tolist(),
        n_validation=len(labels),
    )


def plot_confusion(evaluation: Evaluation, path: Path) -> None:
    """Write the confusion matrix as a PNG (rows: true label, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(evaluation.confusion)
    figure, axes = plt.subplots(figsize=(9, 8))
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(evaluation.labels))
    axes.set_xticks(ticks, evaluation.labels, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(ticks, evaluation.labels, fontsize=8)
    for (row, column), value in np.ndenumerate(matrix):
        if value:
            color = "white" if value > matrix.max() / 2 else "black"
            axes.text(column, row, str(value), ha="center", va="center", fontsize=7, color=color)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"validation confusion matrix (macro-F1 {evaluation.macro_f1:.3f})")
    figure.tight_layout()
    # A fixed creation date keeps the PNG byte-identical across runs of the same training.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)


@dataclass
class TrainingResult:
    """A fitted pipeline with everything the wheel's metadata records about it."""

    pipeline: Pipeline
    evaluation: Evaluation
    data_fingerprint: str
    n_train: int
    n_filtered: int
    corrections: CorrectionCounts

    @property
    def corrections_applied(self) -> int:
        """Training cases relabelled or added by agents' corrections."""
        return self.corrections.relabelled + self.corrections.added

    seed: int
    label_counts: dict[str, int] = field(default_factory=dict)
    #: Each agent's share of the corrections, and those the cap and the flag left out.
    agents: AgentReport = field(default_factory=AgentReport)


def train(
    cases: pd.DataFrame,
    validation: pd.DataFrame,
    feedback: pd.DataFrame | None = None,
    seed: int = 0,
    agent_limits: AgentLimits | None = None,
) -> TrainingResult:
    """Weigh each agent's corrections, apply them, fit the pipeline on the classifiable cases and
    evaluate it.

    Args:
        cases: Training rows with ``case_id``, ``text``, ``label``.
        validation: Held-out rows with the same columns; never trained on.
        feedback: Agents' corrections (``case_id``, ``corrected_label``, ``timestamp``, and
            ``text`` for cases outside the training data), see :mod:`case_model.training.corrections`.
        seed: Seed of every random step; the same data and seed give the same model.
        agent_limits: How far one agent's corrections may move the model (the defaults when None):
            beyond its cap they are left out, and all of a flagged agent's; see
            :mod:`case_model.training.agent_influence`. ``corrections.read`` still counts every row read.
    """
    corrections = CorrectionCounts()
    agents = AgentReport(agent_limits or AgentLimits())
    if feedback is not None and len(feedback):
        kept, agents = limit_agents(cases, feedback, agent_limits)
        cases, corrections = apply_corrections(cases, kept)
        corrections = replace(corrections, read=len(feedback))
    texts, labels = classifiable(cases)
    if len(set(labels)) < 2:
        raise DataError("training needs at least two labels among the classifiable cases")
    pipeline = build_pipeline(seed)
    pipeline.fit(texts, labels)
    val_texts, val_labels = classifiable(validation)
    if not val_texts:
        raise DataError("the validation set has no classifiable case")
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return TrainingResult(
        pipeline=pipeline,
        evaluation=evaluate(CaseClassifier.from_pipeline(pipeline, {}), val_texts, val_labels),
        data_fingerprint=fingerprint(cases),
        n_train=len(texts),
        n_filtered=len(cases) - len(texts),
        corrections=corrections,
        seed=seed,
        label_counts=dict(sorted(counts.items())),
        agents=agents,
    )


def check_quality(macro_f1: float, threshold: float) -> None:
    """Refuse a model below the absolute threshold (the comparison with the model it replaces is
    :mod:`case_model.training.champion`'s, on the same validation set).

    Raises:
        QualityGateError: with the figures that failed the gate.
    """
    if macro_f1 < threshold:
        raise QualityGateError(
            f"quality gate: macro-F1 {macro_f1:.4f} is below the threshold {threshold:.4f}; no wheel built"
        )
