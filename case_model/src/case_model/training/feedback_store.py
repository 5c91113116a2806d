"""The feedback store as training uses it: the few calls it makes, as an interface this wheel owns.

Training reads the agents' corrections from the feedback service's store and flags the agents it
left out there. The model wheel must not depend on the feedback service (which depends on the model
wheel), so training works against :class:`FeedbackStore`, a Protocol: the feedback service's
``Store`` satisfies it, and so does any stand-in a test or another store hands over.

Only :func:`opened_store` names the feedback service, and only when it is called with a store URL:
importing this module, or training from files, needs nothing of it. The retraining image installs
the feedback service beside the wheel (``case-batch[retrain]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, runtime_checkable

#: What to install for :func:`opened_store`, named in its refusal.
FEEDBACK_REQUIREMENT = "case-feedback[service]"


class CorrectedCase(Protocol):
    """A case's latest correction as the store exports it for training."""

    @property
    def case_id(self) -> str:
        """The case's id, as the CRM sent it."""

    @property
    def label(self) -> str:
        """The label the agent chose."""

    @property
    def corrected_at(self) -> datetime:
        """When the agent corrected it: the latest correction of a case wins."""

    @property
    def text(self) -> str | None:
        """The cleaned, PII-masked text the model answered, when the store still keeps it."""

    @property
    def agent_id(self) -> str:
        """The agent the label is from: retraining weighs each agent's share by it."""


@runtime_checkable
class FeedbackStore(Protocol):
    """The calls training makes on the feedback store."""

    @property
    def dialect(self) -> str:
        """What a message may say about the store (``sqlite``, ``postgresql``), never its URL."""

    def corrected_cases(self) -> Sequence[CorrectedCase]:
        """The latest correction of every corrected case."""

    def flag_agents(self, agent_ids: Sequence[str], now: datetime) -> int:
        """Flag agents whose corrections must leave the quality figures; how many are new."""

    def close(self) -> None:
        """Release the store's connections."""


class StoreError(RuntimeError):
    """The feedback store cannot be opened, read or written; the message never holds its URL."""


@contextmanager
def opened_store(url: str) -> Iterator[FeedbackStore]:
    """The feedback service's store at ``url`` (a SQLAlchemy URL), closed on leaving.

    Raises:
        StoreError: the feedback service is not installed, the URL is not one SQLAlchemy knows, or
            a call on the store fails (named by its type: the message may quote the URL, password
            included).
    """
    try:
        from sqlalchemy.exc import SQLAlchemyError

        from case_feedback.service.store import Store
    except ImportError as error:
        raise StoreError(f"reading the feedback store needs {FEEDBACK_REQUIREMENT} installed: {error}") from error
    try:
        store: FeedbackStore = Store(url)
    except SQLAlchemyError as error:
        raise StoreError(f"not a store URL SQLAlchemy knows: {type(error).__name__}") from error
    try:
        yield store
    except SQLAlchemyError as error:
        raise StoreError(f"cannot read the feedback store ({store.dialect}): {type(error).__name__}") from error
    finally:
        store.close()
