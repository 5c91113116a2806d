"""Training and releasing the model: nothing here is loaded to serve.

The transformer, the predictor and the batch scorer import the top-level modules of
:mod:`case_model` only (text steps, status rules, the model and its artifact). What makes, gates
and ships a model lives here: reading the data and training (:mod:`.fit`), agents' corrections
and their influence (:mod:`.corrections`, :mod:`.agent_influence`, through the
:mod:`.feedback_store` interface), the champion gate and canary sentences (:mod:`.champion`,
:mod:`.canary`), demo data (:mod:`.demo_data`), the model card, wheel building and checking
(:mod:`.modelcard`, :mod:`.wheelbuild`, :mod:`.wheelcheck`), versions and candidates
(:mod:`.versioning`, :mod:`.candidate`) and the ``case-model`` command (:mod:`.cli`).

The package exports the training API itself, so ``from case_model.training import train`` reads as
it did when training was one module. Needs the ``train`` extra (pandas, pyarrow, matplotlib).
"""

from case_model.training.fit import (
    REQUIRED_COLUMNS,
    DataError,
    Evaluation,
    QualityGateError,
    TrainingResult,
    check_quality,
    classifiable,
    evaluate,
    fingerprint,
    plot_confusion,
    read_table,
    train,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "DataError",
    "Evaluation",
    "QualityGateError",
    "TrainingResult",
    "check_quality",
    "classifiable",
    "evaluate",
    "fingerprint",
    "plot_confusion",
    "read_table",
    "train",
]
