"""The README's front door and configuration table stay true to the code."""

from __future__ import annotations

import contextlib
import io
import re

from dev import config_table
from tests.conftest import ROOT


def test_configuration_table_matches_the_settings_classes():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        config_table.main()
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- configuration-table -->\n(.*)<!-- /configuration-table -->", readme, re.S)
    assert block, "README lost its configuration-table markers"
    assert block.group(1) == buffer.getvalue(), "regenerate with: python -m dev.config_table"


def test_front_door_commands_are_documented_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text()
    for command in ("make run", "make test", "make model", "make bench"):
        assert command in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
