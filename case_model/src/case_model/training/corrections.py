"""Agents' corrections as training reads them: from a file or from the feedback store, applied to
the training cases with every correction accounted for.

A correction of a training case relabels it. A correction of a case that is not in the training
data (a case answered online, or by a batch run) becomes a training case of its own when its
cleaned, PII-masked text is known (the feedback store keeps it; a file may carry a ``text``
column); otherwise it is counted as unmatched. Nothing is dropped without being counted.

Every correction names the agent it is from (``agent_id``): the feedback store records it with each
correction; a file may carry an ``agent_id`` column, and a correction without one is the
:data:`UNKNOWN_AGENT`'s. :mod:`case_model.training.agent_influence` weighs each agent's share by it before
the corrections are applied.

The store is reached through :class:`~case_model.training.feedback_store.FeedbackStore`, the
interface this wheel owns: :func:`corrections_from_store` and :func:`flag_in_store` take any store
that satisfies it; the URL forms open the feedback service's own store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from case_model.training.feedback_store import FeedbackStore, StoreError, opened_store

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

FEEDBACK_COLUMNS = ("case_id", "corrected_label", "timestamp")
#: The agent of a correction whose file names none: no one person, so never capped nor flagged.
UNKNOWN_AGENT = "unknown"


@dataclass(frozen=True)
class CorrectionCounts:
    """What became of the corrections a training run read."""

    read: int = 0
    #: Distinct cases corrected (the latest correction of each).
    cases: int = 0
    #: Training cases whose label changed.
    relabelled: int = 0
    #: Training cases whose label the correction confirmed.
    confirmed: int = 0
    #: Cases outside the training data added with their stored text.
    added: int = 0
    #: Cases outside the training data without a text to learn from.
    unmatched: int = 0

    def as_dict(self) -> dict[str, int]:
        """For the model's metadata and the training report."""
        return asdict(self)


def is_store_url(source: str) -> bool:
    """Whether ``--feedback`` names a store (a SQLAlchemy URL) rather than a file."""
    return "://" in source


def read_corrections(source: str) -> pd.DataFrame:
    """Corrections from a CSV/Parquet file or from the feedback store at a SQLAlchemy URL.

    Returns:
        ``case_id``, ``corrected_label``, ``timestamp``, ``text`` (None where unknown) and
        ``agent_id`` (:data:`UNKNOWN_AGENT` where a file names none): retraining weighs each agent's
        share by it, so the agent must travel with the label.
    """
    if not is_store_url(source):
        from case_model.training.fit import read_table

        frame = read_table(Path(source), FEEDBACK_COLUMNS)
        if "text" not in frame.columns:
            frame = frame.assign(text=None)
        frame = frame.assign(agent_id=agent_ids(frame["agent_id"] if "agent_id" in frame.columns else None, len(frame)))
        return frame[[*FEEDBACK_COLUMNS, "text", "agent_id"]]
    return _in_store(source, corrections_from_store)


def corrections_from_store(store: FeedbackStore) -> pd.DataFrame:
    """The latest correction of every case the store holds, in :func:`read_corrections`' columns."""
    import pandas as pd

    rows = store.corrected_cases()
    return pd.DataFrame(
        {
            "case_id": [row.case_id for row in rows],
            "corrected_label": [row.label for row in rows],
            "timestamp": [row.corrected_at.isoformat() for row in rows],
            "text": [row.text for row in rows],
            "agent_id": [row.agent_id or UNKNOWN_AGENT for row in rows],
        },
        columns=[*FEEDBACK_COLUMNS, "text", "agent_id"],
    )


def agent_ids(column: Iterable[object] | None, n: int) -> list[str]:
    """Each correction's agent as a string: a missing or blank one is :data:`UNKNOWN_AGENT`'s
    (a CSV read as text gives ``""`` for it, a Parquet file ``None`` or NaN)."""
    if column is None:
        return [UNKNOWN_AGENT] * n
    named = []
    for value in column:
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
        named.append(text or UNKNOWN_AGENT)
    return named


def record_flagged(source: str, agent_ids: list[str]) -> int:
    """Flag ``agent_ids`` in the feedback store at ``source`` (a store URL), so their corrections
    leave its quality figures, the canary's verdict included; return how many are new.

    Raises:
        DataError: the store cannot be opened or written (named, never its URL).
    """
    return _in_store(source, lambda store: flag_in_store(store, agent_ids))


def flag_in_store(store: FeedbackStore, agent_ids: Sequence[str]) -> int:
    """Flag ``agent_ids`` in ``store`` as of now; how many are new."""
    from datetime import UTC, datetime

    return store.flag_agents(agent_ids, datetime.now(UTC))


def _in_store(source: str, work: Callable[[FeedbackStore], T]) -> T:
    """``work(store)`` on the feedback store at ``source``, its failures as training's DataError."""
    from case_model.training.fit import DataError

    try:
        with opened_store(source) as store:
            return work(store)
    except StoreError as error:
        raise DataError(str(error)) from error


def apply_corrections(cases: pd.DataFrame, feedback: pd.DataFrame) -> tuple[pd.DataFrame, CorrectionCounts]:
    """Apply the latest correction of each case: relabel training cases, add known-text others.

    Returns:
        The training cases after the corrections, and what became of them.
    """
    import pandas as pd

    if "text" not in feedback.columns:
        feedback = feedback.assign(text=None)
    latest = (
        feedback.assign(_when=pd.to_datetime(feedback["timestamp"], utc=True, format="ISO8601"))
        .sort_values(["case_id", "_when"], kind="stable")
        .drop_duplicates("case_id", keep="last")
        .set_index("case_id")
    )
    corrected = cases["case_id"].map(latest["corrected_label"])
    changed = corrected.notna() & (corrected != cases["label"])
    result = cases.copy()
    result.loc[changed, "label"] = corrected[changed]
    outside = latest[~latest.index.isin(cases["case_id"])]
    texts = outside["text"].where(outside["text"].notna(), "").astype(str)
    learnable = outside[texts.str.strip() != ""]
    added = pd.DataFrame(
        {"case_id": learnable.index, "text": learnable["text"].astype(str), "label": learnable["corrected_label"]}
    )
    if len(added):
        result = pd.concat([result, added[result.columns.intersection(added.columns)]], ignore_index=True)
    counts = CorrectionCounts(
        read=len(feedback),
        cases=len(latest),
        relabelled=int(changed.sum()),
        confirmed=int((corrected.notna() & ~changed).sum()),
        added=len(added),
        unmatched=len(outside) - len(added),
    )
    return result, counts
