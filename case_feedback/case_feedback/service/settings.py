"""Configuration of the feedback service: environment (``FEEDBACK_*``) and flags."""

from __future__ import annotations

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
