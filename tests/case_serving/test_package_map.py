"""``case_serving/__init__.py`` maps every module by concern, and imports none of them (the
language service's image holds no KServe and no Starlette)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import case_serving

PACKAGE = Path(case_serving.__file__).parent


def test_every_module_is_on_the_map():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    doc = case_serving.__doc__ or ""
    assert [m for m in modules if f"``{m}``" not in doc] == []


def test_importing_the_package_imports_no_module_of_it():
    code = "import sys, case_serving; print(sorted(m for m in sys.modules if m.startswith('case_serving.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
