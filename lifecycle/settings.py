"""The settings every KServe service of ours shares: body limit, shutdown, warm-up, logging.

Each service's settings class inherits these and adds its own; its ``env_prefix`` applies to all.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from contract.body_limit import DEFAULT_MAX_BODY_BYTES


class ServingSettings(BaseSettings):
    """What :func:`lifecycle.serve.serve` and the logging set-up read."""

    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, description="Largest REST request body accepted (413 above); gRPC: KServe's flag."
    )
    drain_seconds: float = Field(
        0.0, description="After SIGTERM, seconds of serving on while readiness reports false (0 under Knative)."
    )
    shutdown_timeout: float = Field(20.0, description="Longest wait for in-flight requests when stopping.")
    warmup_requests: int = Field(
        6, description="Requests the service sends itself over loopback before it reports ready (0: none)."
    )
    log_level: str = Field("INFO", description="Log level.")
    access_log: bool = Field(
        False, description="One log line per request (Uvicorn's; costs ~7% CPU under load). Knative can log requests."
    )
