"""Configuration of the transformer: environment (``TRANSFORMER_*``) and flags, beside KServe's own.

KServe's flags say where the predictor is (``--predictor_host``, ``--predictor_protocol`` v2 or
grpc-v2, ``--predictor_request_timeout_seconds``); these say everything else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from case_feedback.events import DEFAULT_URL as FEEDBACK_URL
from case_feedback.prediction_log import LogConfig
from case_language.client import ClientConfig, Mode
from case_language.protocol import DEFAULT_URL
from case_model import StatusRules
from case_model.language import DEFAULT_SUPPORTED, DETECTOR_LANGUAGES
from case_model.status import DEFAULT_CONFIDENCE_THRESHOLD
from case_serving.settings import AuthSettings, CommaSeparated, ModelServerSettings


class TransformerSettings(ModelServerSettings, AuthSettings):
    """Everything the transformer reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="TRANSFORMER_", extra="ignore", frozen=True)

    classify_roles: CommaSeparated = Field(
        ("crm",), description="Roles whose tokens may classify (REST and gRPC; health and metadata are open)."
    )
    auth_rate_limits: CommaSeparated = Field(
        ("crm=5000",), description="Requests per second per principal, by role (burst: 2 s of it); 429 above."
    )

    language_mode: Mode = Field(
        "external", description="Language detection: the external HTTP service, an in-process detector, or none."
    )
    language_url: str = Field(DEFAULT_URL, description="URL of the language service's detect endpoint.")
    language_timeout_ms: float = Field(
        250.0, description="Budget for one language-service call, retries included; then the fallback answers."
    )
    language_retries: int = Field(2, description="Retries of a failed language-service call within the budget.")
    language_backoff_ms: float = Field(20.0, description="First retry delay; doubles per retry.")
    language_fallback: Literal["local", "unknown"] = Field(
        "local", description="What answers when the language service fails or the breaker is open."
    )
    language_cache_size: int = Field(4096, description="Entries of the LRU cache of detections (0 disables).")
    breaker_failures: int = Field(5, description="Consecutive language-service failures that open the breaker.")
    breaker_reset_seconds: float = Field(5.0, description="Seconds the breaker stays open before a trial call.")
    supported_languages: CommaSeparated = Field(
        DEFAULT_SUPPORTED, description="Languages classified; others are answered 'unsupported_language'."
    )
    detector_languages: CommaSeparated = Field(
        DETECTOR_LANGUAGES, description="Candidate languages of the in-process detector (local mode and fallback)."
    )
    confidence_threshold: float = Field(
        DEFAULT_CONFIDENCE_THRESHOLD,
        description="Below this confidence the status is 'low_confidence' (label still returned).",
    )
    batch_max_size: int = Field(
        32, description="Most cases per predictor call (and texts per language call); concurrent requests share one."
    )
    batch_max_wait_ms: float = Field(
        0.0, description="Extra wait for more requests once a batch gathers (0: take what has arrived)."
    )
    max_batch_cases: int = Field(256, description="Most cases accepted in one request (400 above).")
    max_text_chars: int = Field(4000, description="Cleaned texts are cut to this length.")
    log_texts: bool = Field(False, description="Log case texts (customer data!); for debugging only.")
    feedback_url: str = Field(
        FEEDBACK_URL, description="Where answered cases are logged (the feedback service); empty: not logged."
    )
    feedback_buffer_events: int = Field(
        10_000, description="Answered cases kept while the feedback service is away; beyond it the oldest are dropped."
    )
    feedback_batch_events: int = Field(256, description="Answered cases per call to the feedback service.")
    feedback_token_file: str = Field(
        "",
        description="The token the prediction log presents (role service): a projected service-account "
        "token, re-read when rotated; empty: none.",
    )
    feedback_linger_seconds: float = Field(
        0.5,
        ge=0,
        description="Longest wait for a full batch before logging what there is (one call per answer is costly).",
    )

    def language_client(self) -> ClientConfig:
        """The language-service client's configuration."""
        return ClientConfig(
            url=self.language_url,
            timeout_seconds=self.language_timeout_ms / 1000,
            retries=self.language_retries,
            backoff_seconds=self.language_backoff_ms / 1000,
            fallback=self.language_fallback,
            cache_size=self.language_cache_size,
            breaker_failures=self.breaker_failures,
            breaker_reset_seconds=self.breaker_reset_seconds,
            batch_max_size=self.batch_max_size,
        )

    def prediction_log(self) -> LogConfig | None:
        """The prediction log's configuration; None when answered cases are not logged."""
        if not self.feedback_url:
            return None
        return LogConfig(
            self.feedback_url,
            self.feedback_buffer_events,
            self.feedback_batch_events,
            linger_seconds=self.feedback_linger_seconds,
            token_file=self.feedback_token_file,
        )

    def status_rules(self) -> StatusRules:
        """The language gate and confidence floor, as configured."""
        return StatusRules.of(self.supported_languages, self.confidence_threshold)
