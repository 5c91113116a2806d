"""Configuration of the predictor: environment (``PREDICTOR_*``) and flags, beside KServe's own flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from case_serving.settings import ModelServerSettings


class PredictorSettings(ModelServerSettings):
    """Everything the predictor reads at start-up; nothing is read later."""

    model_config = SettingsConfigDict(env_prefix="PREDICTOR_", extra="ignore", frozen=True, protected_namespaces=())

    model_dir: str | None = Field(
        None, description="Directory of a trained artifact; by default the one inside the installed case-model wheel."
    )
    max_batch_cases: int = Field(1024, description="Most cases accepted in one request (400 above).")
    max_text_chars: int = Field(4000, description="Texts are cut to this length before prediction.")
    batch_max_size: int = Field(
        32, description="Most texts per vectorised predict; concurrent requests are coalesced up to this."
    )
    batch_max_wait_ms: float = Field(
        0.0, description="Extra wait for more requests once a batch gathers (0: take what has arrived)."
    )
    predict_in_thread: bool = Field(
        True, description="Run predict off the event loop, so requests keep being parsed during a batch."
    )
    inline_predict_texts: int = Field(
        8,
        description="Batches of at most this many texts are predicted on the event loop even so: "
        "the thread hop costs more than they take.",
    )
    explain_terms: int = Field(5, description="Terms returned per case when the request asks for an explanation.")
