"""Configuration of the feedback service: environment (``FEEDBACK_*``) and flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from case_feedback.events import DEFAULT_PORT
from case_serving.settings import CommaSeparated, ServiceSettings


class FeedbackSettings(ServiceSettings):
    """Everything the service reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a pod).")
    port: int = Field(DEFAULT_PORT, description="HTTP port.")
    store_url: str = Field(
        "sqlite:///data/feedback.sqlite",
        description="SQLAlchemy URL of the store: a SQLite file, or postgresql+psycopg://... (from a Secret).",
    )
    store_url_file: str = Field(
        "", description="File holding the store URL (a mounted Secret, as on the cluster); wins over store_url."
    )
    labels: CommaSeparated = Field(
        (), description="Labels a correction may name; empty: the installed model wheel's labels."
    )
    max_items: int = Field(1024, description="Most predictions or corrections in one request (413 above).")
    max_body_bytes: int = Field(8 * 1024 * 1024, description="Largest request body accepted (413 above).")
    text_retention_days: float = Field(
        90.0, description="Case texts older than this are erased (labels and figures stay); 0 keeps them."
    )
    retention_interval_seconds: float = Field(3600.0, description="How often texts past retention are erased.")
    quality_cache_seconds: float = Field(
        10.0, description="How long /metrics reuses the quality figures it computed from the store."
    )
    migrate: bool = Field(True, description="Bring the store's schema up to date (Alembic) before serving.")

    def store_location(self) -> str:
        """The store URL: read from ``store_url_file`` when set (a Secret mounted as a file keeps
        the password out of the process environment), else ``store_url``.

        Raises:
            SystemExit: the file cannot be read or is empty, naming the file and never its content.
        """
        if not self.store_url_file:
            return self.store_url
        try:
            url = Path(self.store_url_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SystemExit(f"cannot read the store URL from {self.store_url_file}: {error.strerror}") from error
        if not url:
            raise SystemExit(f"the store URL file {self.store_url_file} is empty")
        return url
