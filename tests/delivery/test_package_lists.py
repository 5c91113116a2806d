"""Every list of the project's packages names the same packages as the one place that defines them:
the package directories, each with its own pyproject.toml (as docker/local_packages.py reads them).

The lists cannot be derived where they stand: pyproject.toml is static TOML, and the Makefile's
list also says which extras the development virtualenv installs (and so what the dev lock
holds). So this test holds them equal instead: a package added, renamed or removed in one place
and not in the others fails here, naming the list.
"""

from __future__ import annotations

import re
import sys
import tomllib

import pytest

from tests.conftest import ROOT

#: Code of this repository that is imported as first-party but is no installable package.
NOT_PACKAGES = {"dev", "bench", "tests"}


def _packages() -> dict[str, dict]:
    """Directory -> its [project] table, for every package of the project (docker/local_packages.py)."""
    sys.path.insert(0, str(ROOT / "docker"))
    try:
        from local_packages import local_packages  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "docker"))
    return {
        path.name: tomllib.loads((path / "pyproject.toml").read_text())["project"]
        for path in local_packages(ROOT).values()
    }


def _source_root(directory: str) -> str:
    """Where a package's import package lives: ``<dir>/src`` in the src layout, else ``<dir>``."""
    return f"{directory}/src" if (ROOT / directory / "src").is_dir() else directory


PACKAGES = _packages()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_there_are_packages_to_compare():
    assert len(PACKAGES) >= 9
    for directory in PACKAGES:  # each import package is named after its directory
        assert (ROOT / _source_root(directory) / directory).is_dir(), directory


def _makefile_packages() -> list[str]:
    match = re.search(r"^PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "the Makefile lists PACKAGES"
    return match.group(1).split()


def test_the_makefile_installs_every_package_once_with_extras_it_defines():
    named = [re.match(r"^([\w.-]+)(?:\[([\w,]+)\])?$", entry) for entry in _makefile_packages()]
    assert all(named), _makefile_packages()
    directories = [m.group(1) for m in named if m]
    assert sorted(directories) == sorted(PACKAGES), "Makefile PACKAGES"
    for match in named:
        assert match
        extras = set(filter(None, (match.group(2) or "").split(",")))
        defined = set(PACKAGES[match.group(1)].get("optional-dependencies", {}))
        assert extras <= defined, f"Makefile PACKAGES: {match.group(1)} has no extra {sorted(extras - defined)}"


@pytest.mark.parametrize(
    ("where", "listed", "expected"),
    [
        (
            "[tool.ruff.lint.isort] known-first-party",
            PYPROJECT["tool"]["ruff"]["lint"]["isort"]["known-first-party"],
            [*PACKAGES, *NOT_PACKAGES],
        ),
        ("[tool.mypy] mypy_path", PYPROJECT["tool"]["mypy"]["mypy_path"], [_source_root(d) for d in PACKAGES]),
        ("[tool.mypy] files", PYPROJECT["tool"]["mypy"]["files"], [f"{_source_root(d)}/{d}" for d in PACKAGES]),
        ("[tool.coverage.run] source_pkgs", PYPROJECT["tool"]["coverage"]["run"]["source_pkgs"], list(PACKAGES)),
    ],
)
def test_pyproject_lists_every_package_once(where, listed, expected):
    assert len(listed) == len(set(listed)), f"{where}: listed twice"
    assert sorted(listed) == sorted(expected), where
