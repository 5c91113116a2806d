"""How every service builds its typed settings: environment variables, overridden by flags.

Each service declares one pydantic-settings class (env prefix, a description per field); this
module attaches its fields as flags to the service's argparse parser (KServe's, for the predictor
and transformer) and builds the settings object once at start-up.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Annotated, TypeVar

from pydantic import BeforeValidator
from pydantic_settings import BaseSettings, CliSettingsSource, NoDecode

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
    source = CliSettingsSource(settings_cls, root_parser=parser, cli_avoid_json=True)
    args = parser.parse_args(argv)
    return settings_cls(_cli_settings_source=source(parsed_args=args)), args
