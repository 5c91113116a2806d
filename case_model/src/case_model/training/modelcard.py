"""The model card: what the model is, what it was trained on, and how well it did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from case_model.training.fit import Evaluation


def render_model_card(metadata: dict[str, Any], evaluation: Evaluation) -> str:
    """Render the Markdown model card from the metadata and the validation results."""
    rows = "\n".join(
        f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
        for label, m in evaluation.per_class.items()
    )
    libraries = ", ".join(f"{k} {v}" for k, v in metadata["library_versions"].items())
    synthetic = (
        "\n> **Trained on synthetic data** (`case-model demo-data`): the figures below say the pipeline "
        "works end to end, not how it would do on real case logs.\n"
        if metadata.get("synthetic_data")
        else ""
    )
    return f"""# Model card: case-classifier {metadata["model_version"]}
{synthetic}
## What it does
Assigns a customer-support case log to one of {len(metadata["labels"])} categories and returns
calibrated probabilities for the top three. Input is the case text after `case_model.clean_text`
(HTML, quoted replies and signatures removed, PII masked, unicode normalised, capped at
{metadata["text_steps"]["max_chars"]} characters). Empty, too-short and auto-reply cases are not classified.

## Model
Word (1-2) and character (3-5) n-gram TF-IDF, linear SVM, sigmoid-calibrated probabilities (3-fold).

| field | value |
|---|---|
| version | {metadata["model_version"]} |
| trained at | {metadata["trained_at"]} |
| training rows used | {metadata["n_train"]} (filtered out: {metadata["n_filtered_out"]}) |
| agent corrections applied | {metadata["corrections_applied"]} ({_corrections(metadata)}) |
| agents' influence | {_agents(metadata)} |
| training-data fingerprint (SHA-256) | `{metadata["data_fingerprint"]}` |
| artifact SHA-256 | {_digests(metadata)} |
| seed | {metadata["seed"]} |
| libraries | {libraries} |

## Validation ({evaluation.n_validation} held-out cases)
Macro-F1 **{evaluation.macro_f1:.4f}**, accuracy {evaluation.accuracy:.4f}. Confusion matrix: `confusion_matrix.png`.

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

## Limits
Supported languages are those well represented in training; cases in other languages are answered
`unsupported_language` by the service. Probabilities below the service's confidence threshold are
answered `low_confidence` and should go to a human.
"""


def _corrections(metadata: dict[str, Any]) -> str:
    counts = metadata.get("corrections") or {}
    return (
        f"{counts.get('relabelled', 0)} relabelled, {counts.get('added', 0)} added with their stored text; "
        f"{counts.get('confirmed', 0)} confirmed, {counts.get('unmatched', 0)} without a text to learn from"
    )


def _agents(metadata: dict[str, Any]) -> str:
    """Each agent's weight in the training data, as counts: who was flagged is named in the
    candidate's report for its reviewer, not in a model card that ships with every install."""
    agents = metadata.get("agents")
    if not agents:
        return "not recorded"
    left = agents["corrections_left_out"]
    limits = agents["limits"]
    return (
        f"{agents['agents']} named agents, the largest share {agents['largest_share']:.1%}; "
        f"{agents['flagged_agents']} flagged (all their corrections left out: {left['flagged']}), "
        f"{left['cap']} corrections beyond an agent's cap left out (cap: share {limits['max_share']}, "
        f"floor {limits['cap_floor']}; flag: disagreement above {limits['max_disagreement']} "
        f"over at least {limits['min_comparable']} shared cases)"
    )


def _digests(metadata: dict[str, Any]) -> str:
    return ", ".join(f"`{name}` `{digest}`" for name, digest in sorted(metadata["files"].items()))
