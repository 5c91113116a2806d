"""Every environment installs from a lock with hashes that is current: each image's, the dev and CI
virtualenv's, the CI tools'. A requirement added to a pyproject.toml without `make lock` fails here,
and so does a lock that disagrees with constraints.txt."""

from __future__ import annotations

import re
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dev.lock import IMAGES, LOCKS, TOOLS, requirements
from tests.conftest import ROOT

ALL = [*IMAGES, "dev", *TOOLS]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _pins(name: str) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes) in locks/<name>.txt."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (LOCKS / f"{name}.txt").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, count = pins[current]
            pins[current] = (version, count + 1)
    return pins


def _constraints() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


@pytest.mark.parametrize("name", ALL)
def test_every_package_is_pinned_with_a_hash(name):
    pins = _pins(name)
    assert pins
    unhashed = [package for package, (_, hashes) in pins.items() if hashes == 0]
    assert unhashed == []


@pytest.mark.parametrize("name", ALL)
def test_the_lock_covers_what_the_environment_requires(name):
    """Every requirement the pyproject.toml files (or the tool pins) state is in the lock, at a
    version the requirement allows."""
    pins = _pins(name)
    for line in requirements(name):
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        package = canonicalize_name(requirement.name)
        assert package in pins, f"{line} is not in locks/{name}.txt: make lock"
        assert requirement.specifier.contains(pins[package][0], prereleases=True), f"{line} vs {pins[package][0]}"


@pytest.mark.parametrize("name", [*IMAGES, "dev"])
def test_the_project_locks_agree_with_constraints(name):
    constraints = _constraints()
    for package, (version, _) in _pins(name).items():
        if package in constraints:
            assert constraints[package] == version, f"{package}: lock {version}, constraints {constraints[package]}"


def test_every_install_requires_the_hashes():
    makefile = (ROOT / "Makefile").read_text()
    for venv, lock in (
        (".venv", "dev"),
        (".venv-checkov", "checkov"),
        (".venv-kubeval", "kubeval"),
        (".venv-mlserver", "mlserver"),
    ):
        name = "$(VENV)" if venv == ".venv" else venv
        assert f"$(NEW_VENV) {name} locks/{lock}.txt" in makefile
    venv_script = (ROOT / "docker" / "venv.sh").read_text()
    assert '--no-deps --require-hashes -r "$installer"' in venv_script  # the installer itself
    assert '--require-hashes -r "$lock"' in venv_script
    install = (ROOT / "docker" / "install.sh").read_text()
    assert 'pip install --require-hashes -r "$here/locks/$LOCK.txt"' in install
    assert "--no-deps --require-hashes" in install  # the model wheel too
    for image in IMAGES:
        assert f"LOCK={image} " in (ROOT / f"Dockerfile.{image}").read_text()


def test_every_environment_starts_from_the_pinned_installer():
    """No virtualenv is made but by docker/venv.sh, so no lock is installed by whatever pip the
    machine or a base image bundles."""
    makefile = (ROOT / "Makefile").read_text()
    assert "NEW_VENV := sh docker/venv.sh" in makefile
    assert "-m venv" not in makefile
    install = (ROOT / "docker" / "install.sh").read_text()
    assert 'sh "$here/docker/venv.sh" "$VENV"' in install
    assert "-m venv" not in install.replace('"$here/docker/venv.sh"', "")
    pins = _pins("installer")
    assert list(pins) == ["pip"]
    assert pins["pip"][1] >= 1


def test_the_dev_environment_is_the_lock():
    """What is installed in this very environment is what the dev lock pins."""
    from importlib import metadata

    pins = _pins("dev")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {p: (v, installed[p]) for p, (v, _) in pins.items() if p in installed and installed[p] != v}
    assert drift == {}, f"installed differs from locks/dev.txt ({sys.prefix}): make venv"
