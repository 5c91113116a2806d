"""Texts are kept only as long as configured: past retention the service erases them (labels,
corrections and figures stay), at start and then periodically."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support.events import event
from tests.support.feedback import eventually, start_feedback

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feedback")]


def _texts(store_url: str) -> dict[str, str | None]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT case_id, text FROM predictions")).all())
    finally:
        engine.dispose()


def test_texts_past_retention_are_erased_and_the_rest_stays(labels, tmp_path):
    store = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    # Retention of one second, checked every 0.2 s.
    args = ("--text-retention-days", str(1 / 86400), "--retention-interval-seconds", "0.2", "--quality-cache-seconds=0")
    service = start_feedback(store, labels, tmp_path / "logs", *args)
    try:
        service.log([event("OLD-1", "1.0.0", predicted_at=1_000_000.0), event("NEW-1", "1.0.0")])
        service.correct(("OLD-1", "storage"))
        texts = eventually(lambda: (t := _texts(store)) and t["OLD-1"] is None and t)
        assert texts["NEW-1"] is not None or eventually(lambda: _texts(store)["NEW-1"] is None)
        quality = service.quality("1.0.0")
        assert (quality["predictions"], quality["reviewed"], quality["corrected"]) == (2, 1, 1)
    finally:
        service.process.stop()


def test_retention_zero_keeps_texts(labels, tmp_path):
    store = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    service = start_feedback(store, labels, tmp_path / "logs", "--text-retention-days=0")
    try:
        service.log([event("OLD-1", "1.0.0", predicted_at=1_000_000.0)])
        assert _texts(store)["OLD-1"] == "the case OLD-1 as the model saw it"
    finally:
        service.process.stop()


def test_the_store_url_can_come_from_a_mounted_secret_file(tmp_path):
    """On the cluster the URL (with its password) is a mounted Secret file, not an environment
    variable; a missing file stops the service naming the file, never printing a URL."""
    from case_feedback.service.settings import FeedbackSettings

    secret = tmp_path / "url"
    secret.write_text("postgresql+psycopg://feedback:pw@db:5432/feedback\n")
    settings = FeedbackSettings(store_url="sqlite:///ignored.sqlite", store_url_file=str(secret))
    assert settings.store_location() == "postgresql+psycopg://feedback:pw@db:5432/feedback"
    assert FeedbackSettings(store_url="sqlite:///x.sqlite").store_location() == "sqlite:///x.sqlite"
    with pytest.raises(SystemExit, match=r"cannot read the store URL from .*missing"):
        FeedbackSettings(store_url_file=str(tmp_path / "missing")).store_location()
