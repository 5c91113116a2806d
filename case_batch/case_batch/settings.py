"""Configuration of the batch job: environment (``CASE_BATCH_*``) and flags (``--language-mode``, ...).

The job's own settings, never the transformer's: what it shares with the online service (status
rules, the language client) it builds from these.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from case_batch.scoring import ScoringConfig
from case_language.client import ClientConfig, Mode
from case_language.protocol import DEFAULT_URL
from case_model import StatusRules
from case_model.language import DEFAULT_SUPPORTED, DETECTOR_LANGUAGES
from case_model.status import DEFAULT_CONFIDENCE_THRESHOLD
from case_serving.settings import CommaSeparated


class BatchSettings(BaseSettings):
    """Everything the job reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="CASE_BATCH_", extra="ignore", frozen=True, cli_kebab_case=True, protected_namespaces=()
    )

    input: str = Field(description="Cases as Parquet or CSV (case_id, text).")
    output: str = Field(description="Predictions: a Parquet dataset directory.")
    address: str | None = Field(None, description="Ray cluster address (default: start a local Ray on loopback).")
    batch_size: int = Field(1024, description="Rows per vectorised predict.")
    concurrency: int | None = Field(None, description="Scoring actors (default: one per CPU).")
    model_dir: str | None = Field(None, description="Artifact directory (default: the installed wheel's).")
    language_mode: Mode = Field(
        "local", description="external: the language service through its client (fallback: local); local; off."
    )
    language_url: str = Field(DEFAULT_URL, description="The language service's detect URL (external mode).")
    language_timeout_ms: float = Field(
        5000.0, description="Budget of one language-service call; a call carries a whole batch."
    )
    supported_languages: CommaSeparated = Field(
        DEFAULT_SUPPORTED, description="Languages classified; others are 'unsupported_language'."
    )
    detector_languages: CommaSeparated = Field(
        DETECTOR_LANGUAGES, description="Candidate languages of the in-process detector."
    )
    confidence_threshold: float = Field(
        DEFAULT_CONFIDENCE_THRESHOLD, description="Below this confidence the status is 'low_confidence'."
    )

    def scoring(self) -> ScoringConfig:
        """What every scoring actor needs."""
        return ScoringConfig(
            model_dir=self.model_dir,
            language_mode=self.language_mode,
            language=ClientConfig(
                url=self.language_url, timeout_seconds=self.language_timeout_ms / 1000, batch_max_size=self.batch_size
            ),
            detector_languages=tuple(self.detector_languages),
            rules=StatusRules.of(self.supported_languages, self.confidence_threshold),
        )
