"""The language service's start-up (``python -m case_language``, after the signature check): flags and wiring."""

from __future__ import annotations

import argparse
import asyncio

from case_language.service.server import serve
from case_language.service.settings import LanguageServiceSettings
from case_serving import logs
from case_serving.settings import load_settings

SERVICE = "case_language"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="case-language", description="Reference language-detection service.")
    # Logging first, so that a warning while the settings are read (a variable under its former
    # name) is a JSON line like every other; then again at the configured level.
    logs.configure(SERVICE)
    settings, _ = load_settings(LanguageServiceSettings, parser, argv)
    logs.configure(SERVICE, settings.log_level, access_log=settings.access_log)
    asyncio.run(serve(settings))
    return 0
