"""How every service of ours is configured: typed settings from the environment, overridden by flags.

Each service declares one pydantic-settings class (env prefix, a description per field) built
once at start-up by :func:`load_settings`, which attaches its fields as flags to the service's
argparse parser (KServe's, for the predictor and transformer) and passes the object down.
:class:`ServiceSettings` holds the fields every HTTP service shares; :class:`ServingSettings` adds
what the KServe services need. Nothing here imports KServe, so the language and feedback
services use it too.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Annotated, TypeVar

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, CliSettingsSource, NoDecode

#: KServe's own default for gRPC messages (``--grpc_max_receive_message_length``); REST matches it.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class ServiceSettings(BaseSettings):
    """What every HTTP service of ours reads: body limit, drain and shutdown, logging."""

    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, description="Largest REST request body accepted (413 above); gRPC: KServe's flag."
    )
    drain_seconds: float = Field(
        0.0, description="After SIGTERM, seconds of serving on while readiness reports false (0 under Knative)."
    )
    shutdown_timeout: float = Field(20.0, description="Longest wait for in-flight requests when stopping.")
    log_level: str = Field("INFO", description="Log level.")
    access_log: bool = Field(
        False, description="One log line per request (costs ~7% CPU under load). Knative can log requests."
    )


class ServingSettings(ServiceSettings):
    """What :func:`case_serving.serve.serve` reads besides: warm-up before readiness."""

    warmup_requests: int = Field(
        6, description="Requests the service sends itself over loopback before it reports ready (0: none)."
    )
    warmup_timeout_seconds: float = Field(
        10.0, description="Longest warm-up; then ready anyway, so a missing dependency cannot hold readiness."
    )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return _split_commas(value[0])
    return value


#: A list setting written as ``en,de,fr`` in the environment or on the command line.
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]


def load_settings(
    settings_cls: type[SettingsT], parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> tuple[SettingsT, argparse.Namespace]:
    """Add ``settings_cls``'s fields to ``parser`` as flags, parse ``argv``, build the settings.

    Precedence: flag, then ``<PREFIX><FIELD>`` environment variable, then the field's default.

    Returns:
        The settings and the whole parsed namespace (which also holds the parser's other flags).
    """
    source: CliSettingsSource[argparse.ArgumentParser] = CliSettingsSource(
        settings_cls, root_parser=parser, cli_avoid_json=True
    )
    args = parser.parse_args(argv)
    return settings_cls(_cli_settings_source=source(parsed_args=args)), args
