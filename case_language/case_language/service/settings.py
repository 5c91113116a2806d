"""Configuration of the language service: environment (``LANGDETECT_*``) and flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from case_language.protocol import DEFAULT_PORT
from case_model.language import DETECT_CHARS, DETECTOR_LANGUAGES, MIN_CONFIDENCE
from case_serving.settings import CommaSeparated, HttpServiceSettings


class LanguageServiceSettings(HttpServiceSettings):
    """Everything the service reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="LANGDETECT_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a pod).")
    port: int = Field(DEFAULT_PORT, description="HTTP port.")
    languages: CommaSeparated = Field(
        DETECTOR_LANGUAGES, description="Candidate languages (ISO 639-1), comma-separated."
    )
    min_confidence: float = Field(MIN_CONFIDENCE, description="Below this confidence the answer is 'unknown'.")
    max_texts: int = Field(1024, description="Most texts accepted in one call (413 above).")
    max_body_bytes: int = Field(4 * 1024 * 1024, description="Largest request body accepted (413 above).")
    max_text_chars: int = Field(DETECT_CHARS, description="Only this many leading characters of a text are examined.")
