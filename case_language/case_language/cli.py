"""The language service's start-up (``python -m case_language``, after the signature check): flags and wiring."""

from __future__ import annotations

import argparse
import asyncio

from case_language.service.server import serve
from case_language.service.settings import LanguageServiceSettings
from case_serving import logs
from case_serving.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="langdetect", description="Reference language-detection service.")
    settings, _ = load_settings(LanguageServiceSettings, parser, argv)
    logs.configure("langdetect", settings.log_level, access_log=settings.access_log)
    asyncio.run(serve(settings))
    return 0
