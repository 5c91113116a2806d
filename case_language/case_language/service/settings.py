"""Configuration of the language service: environment (``LANGUAGE_*``) and flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from case_language.protocol import DEFAULT_PORT
from case_model.language import DETECT_CHARS, DETECTOR_LANGUAGES, MIN_CONFIDENCE
from case_serving.settings import CommaSeparated, FormerEnvPrefix, HttpServiceSettings

#: The former prefix of the service's variables: deployments that still set them keep working until
#: the next release (read below ``LANGUAGE_*``, each with a warning naming its new name).
FORMER_ENV_PREFIX = "LANGDETECT_"


class LanguageServiceSettings(HttpServiceSettings):
    """Everything the service reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="LANGUAGE_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a pod).")
    port: int = Field(DEFAULT_PORT, description="HTTP port.")
    languages: CommaSeparated = Field(
        DETECTOR_LANGUAGES, description="Candidate languages (ISO 639-1), comma-separated."
    )
    min_confidence: float = Field(MIN_CONFIDENCE, description="Below this confidence the answer is 'unknown'.")
    max_texts: int = Field(1024, description="Most texts accepted in one call (413 above).")
    max_body_bytes: int = Field(4 * 1024 * 1024, description="Largest request body accepted (413 above).")
    max_text_chars: int = Field(DETECT_CHARS, description="Only this many leading characters of a text are examined.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources (flags come before all of them, see :func:`case_serving.settings.load_settings`),
        then the former ``LANGDETECT_*`` names, lowest."""
        former = FormerEnvPrefix(settings_cls, FORMER_ENV_PREFIX, current=env_settings)
        return init_settings, env_settings, dotenv_settings, file_secret_settings, former
