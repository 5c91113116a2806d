"""Configuration of the feedback service: environment (``FEEDBACK_*``) and flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from case_feedback.events import DEFAULT_PORT
from case_serving.settings import AuthSettings, CommaSeparated, HttpServiceSettings
from case_serving.tokens import Issuer


class FeedbackSettings(HttpServiceSettings, AuthSettings):
    """Everything the service reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", frozen=True)

    predictions_roles: CommaSeparated = Field(
        ("service",), description="Roles that may write the prediction log (the transformers, the batch loader)."
    )
    corrections_roles: CommaSeparated = Field(
        ("crm", "agent"), description="Roles that may submit corrections (an agent only its own)."
    )
    on_behalf_roles: CommaSeparated = Field(
        ("crm",), description="Roles that may submit corrections naming an agent (the CRM); both are recorded."
    )
    erase_roles: CommaSeparated = Field(("privacy",), description="Roles that may erase a case.")
    audit_roles: CommaSeparated = Field(("privacy",), description="Roles that may read a case's audit records.")
    quality_roles: CommaSeparated = Field(("reader",), description="Roles that may read /v1/quality.")
    auth_rate_limits: CommaSeparated = Field(
        ("crm=200", "agent=5", "service=100", "privacy=5", "reader=5"),
        description="Requests per second per principal, by role (burst: 2 s of it); 429 above.",
    )
    auth_service_issuer: str = Field(
        "", description="A second trusted issuer for service accounts (Kubernetes'); empty: none."
    )
    auth_service_audience: str = Field("case-feedback", description="The 'aud' of the service-account tokens.")
    auth_service_jwks_url: str = Field("", description="The service-account issuer's JWKS (URL or file).")
    auth_service_jwks_token_file: str = Field(
        "", description="A token to fetch that JWKS with (Kubernetes' endpoint wants one); empty: none."
    )
    auth_service_jwks_ca_file: str = Field("", description="The CA bundle for that JWKS URL (the cluster's CA).")
    auth_service_accounts: CommaSeparated = Field(
        (), description="Service-account subjects (system:serviceaccount:<ns>:<name>) that get the role service."
    )

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a pod).")
    port: int = Field(DEFAULT_PORT, description="HTTP port.")
    store_url: str = Field(
        "sqlite:///data/feedback.sqlite",
        description="SQLAlchemy URL of the store: a SQLite file, or postgresql+psycopg://... (from a Secret).",
    )
    store_url_file: str = Field(
        "", description="File holding the store URL (a mounted Secret, as on the cluster); wins over store_url."
    )
    served_models: CommaSeparated = Field(
        (),
        description="The served models' labels routes (GET /v2/models/<name>/labels, one per slot): corrections "
        "may name the labels of the versions they serve, prediction events must come from those versions. "
        "Empty: the labels setting, and any version (a development bench).",
    )
    served_models_refresh_seconds: float = Field(30.0, description="How often the served models are read.")
    served_models_keep_seconds: float = Field(
        3600.0,
        description="How long a version stays accepted after a served model last reported it (events its "
        "replaced pods still hold arrive within it).",
    )
    labels: CommaSeparated = Field(
        (),
        description="Without served_models: the labels a correction may name; empty: the installed model "
        "wheel's labels.",
    )
    max_items: int = Field(1024, description="Most predictions or corrections in one request (413 above).")
    max_body_bytes: int = Field(8 * 1024 * 1024, description="Largest request body accepted (413 above).")
    max_corrections_body_bytes: int = Field(
        1024 * 1024,
        description="Largest corrections body (413 above): sized to max_items corrections of about 1 KiB, so "
        "a body of many tiny items is refused before it is read.",
    )
    corrections_per_agent_per_day: int = Field(
        1000, description="Cases one agent may relabel in 24 hours (429 above); 0: no limit."
    )
    corrections_per_day: int = Field(
        100_000, description="Cases all agents together may relabel in 24 hours (429 above); 0: no limit."
    )
    text_retention_days: float = Field(
        90.0, description="Case texts older than this are erased (labels and figures stay); 0 keeps them."
    )
    retention_interval_seconds: float = Field(3600.0, description="How often texts past retention are erased.")
    quality_cache_seconds: float = Field(
        5.0, description="How long /v1/quality and /metrics reuse the quality figures computed from the store."
    )
    migrate: bool = Field(True, description="Bring the store's schema up to date (Alembic) before serving.")

    def issuers(self) -> list[Issuer]:
        """The identity provider, and Kubernetes' issuer for the named service accounts."""
        issuers = super().issuers()
        if self.auth_service_issuer:
            issuers.append(
                Issuer(
                    self.auth_service_issuer,
                    self.auth_service_audience,
                    self.auth_service_jwks_url,
                    subject_roles={account: frozenset({"service"}) for account in self.auth_service_accounts},
                    jwks_token_file=self.auth_service_jwks_token_file,
                    jwks_ca_file=self.auth_service_jwks_ca_file,
                )
            )
        return issuers

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
