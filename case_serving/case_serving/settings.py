"""How every service of ours is configured: typed settings from the environment, overridden by flags.

Each service declares one pydantic-settings class (env prefix, a description per field) built
once at start-up by :func:`load_settings`, which attaches its fields as flags to the service's
argparse parser (KServe's, for the predictor and transformer) and passes the object down.

Flags have one style: ours are kebab-case (``--max-body-bytes``), as every command line of the
project writes them; the flags KServe defines keep KServe's own names (``--http_port``), because
KServe's documentation and manifests use them. The former underscore spelling of our flags is
still read for one release, with a warning (:func:`former_flag_spellings`).
:class:`HttpServiceSettings` holds the fields every HTTP service shares; :class:`ModelServerSettings` adds
what the KServe services need. Nothing here imports KServe, so the language and feedback
services use it too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    CliSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from case_serving.access import Gate, RateLimiter, parse_rates
from case_serving.tokens import Issuer, TokenPolicy, TokenVerifier

log = logging.getLogger("case_serving")

#: KServe's own default for gRPC messages (``--grpc_max_receive_message_length``); REST matches it.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class HttpServiceSettings(BaseSettings):
    """What every HTTP service of ours reads: body limit, drain and shutdown, logging."""

    model_config = SettingsConfigDict(cli_kebab_case=True)

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


class ModelServerSettings(HttpServiceSettings):
    """What :func:`case_serving.serve.serve` reads besides: warm-up before readiness."""

    warmup_requests: int = Field(
        6, description="Requests the service sends itself over loopback before it reports ready (0: none)."
    )
    warmup_timeout_seconds: float = Field(
        10.0, description="Longest warm-up; then ready anyway, so a missing dependency cannot hold readiness."
    )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def warn_renamed(old: str, new: str, new_is_set: bool) -> None:
    """Say, in the log and as a :class:`DeprecationWarning`, that the environment variable ``old``
    is the former name of ``new``, and whether it was read or ``new`` won over it."""
    if new_is_set:
        message = f"{old} is ignored: {new}, its new name, is set too; remove {old}"
    else:
        message = f"{old} is the former name of {new}: still read until the next release; set {new} instead"
    _deprecated(message, variable=old, new_name=new)


def _deprecated(message: str, **names: str) -> None:
    """A former name in use: one log line (the service's JSON log) and a :class:`DeprecationWarning`."""
    log.warning(message, extra=names)
    warnings.warn(message, DeprecationWarning, stacklevel=3)


class FormerEnvPrefix(EnvSettingsSource):
    """The environment under a settings class's former prefix, so that deployments which still set
    the old names keep working for a release. Placed below ``current`` (the source of the present
    prefix, ``env_prefix`` of the class) in ``settings_customise_sources``, so the new name wins
    when both are set; every old variable found is named with its new name by :func:`warn_renamed`."""

    def __init__(
        self, settings_cls: type[BaseSettings], former_prefix: str, current: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls, env_prefix=former_prefix)
        self.current = current
        self.current_prefix = settings_cls.model_config.get("env_prefix") or ""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The old variable's value; warns when it is set."""
        value, key, is_complex = super().get_field_value(field, field_name)
        if value is not None:
            warn_renamed(
                f"{self.env_prefix}{field_name}".upper(),
                f"{self.current_prefix}{field_name}".upper(),
                self.current.get_field_value(field, field_name)[0] is not None,
            )
        return value, key, is_complex


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return _split_commas(value[0])
    return value


#: A list setting written as ``en,de,fr`` in the environment or on the command line.
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]


#: The development issuer's name, audience and published keys (``make keys`` makes its key pair
#: in ``.keys/``; ``make token`` signs with it). A deployment names its identity provider instead.
DEV_ISSUER = "case-classifier-dev"
DEV_AUDIENCE = "case-classifier"
DEV_JWKS = ".keys/token-issuer.jwks.json"


class AuthSettings(BaseSettings):
    """Who may call: the trusted token issuer, the claim holding roles, the rates per role.

    A service adds the roles each of its routes accepts; see :class:`case_serving.access.Gate`.
    """

    model_config = SettingsConfigDict(cli_kebab_case=True)

    auth: bool = Field(
        True, description="Check bearer tokens. Off only on a test bench: no manifest turns it off (a test holds it)."
    )
    auth_issuer: str = Field(DEV_ISSUER, description="The identity provider's exact 'iss'.")
    auth_audience: str = Field(DEV_AUDIENCE, description="The exact 'aud' our tokens carry.")
    auth_jwks_url: str = Field(
        DEV_JWKS, description="The issuer's JWKS: an https:// URL (http:// on loopback only) or a file."
    )
    auth_roles_claim: str = Field(
        "roles", description="Dotted path of the roles claim: realm_access.roles (Keycloak), roles (Entra), groups."
    )
    auth_algorithms: CommaSeparated = Field(
        ("RS256", "PS256", "ES256", "EdDSA"), description="Signature algorithms accepted; asymmetric ones only."
    )
    auth_leeway_seconds: float = Field(30.0, ge=0, le=60, description="Clock skew tolerated on exp and nbf (<= 60).")
    auth_jwks_refresh_seconds: float = Field(
        30.0, gt=0, description="Least time between two JWKS fetches caused by unknown key ids."
    )
    auth_cache_size: int = Field(10_000, ge=0, description="Verified tokens remembered until they expire.")
    auth_rate_limits: CommaSeparated = Field(
        (), description="Requests per second per principal, by role: crm=2000,agent=5 (burst: 2 s of it)."
    )

    def issuers(self) -> list[Issuer]:
        """The trusted issuers: the identity provider (a service may add others)."""
        return [Issuer(self.auth_issuer, self.auth_audience, self.auth_jwks_url, self.auth_roles_claim)]

    def gate(self) -> Gate:
        """The service's gate: token checks (unless ``auth`` is off), and the rates per principal."""
        policy = TokenPolicy(
            frozenset(self.auth_algorithms),
            self.auth_leeway_seconds,
            self.auth_jwks_refresh_seconds,
            self.auth_cache_size,
        )
        verifier = TokenVerifier(self.issuers(), policy) if self.auth else None
        return Gate(verifier, RateLimiter(parse_rates(self.auth_rate_limits)))


def former_flag_spellings(
    settings_cls: type[BaseSettings], parser: argparse.ArgumentParser, argv: Sequence[str]
) -> list[str]:
    """``argv`` with the former underscore spelling of our flags (``--max_body_bytes``) written as
    today's (``--max-body-bytes``), each one warned about; KServe's flags, which the parser knows
    by their underscore names, are left as they are."""
    known = {option for action in parser._actions for option in action.option_strings}
    ours = {f"--{name}" for name in settings_cls.model_fields if "_" in name}
    rewritten = []
    for arg in argv:
        flag, sep, value = arg.partition("=")
        if flag in ours and flag not in known:
            new = flag.replace("_", "-")
            _deprecated(
                f"{flag} is the former spelling of {new}: still read until the next release; write {new}",
                flag=flag,
                new_name=new,
            )
            arg = f"{new}{sep}{value}"
        rewritten.append(arg)
    return rewritten


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
    args = parser.parse_args(former_flag_spellings(settings_cls, parser, sys.argv[1:] if argv is None else argv))
    return settings_cls(_cli_settings_source=source(parsed_args=args)), args
