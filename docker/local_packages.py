"""Which of the project's own packages a deployable installs, read from their pyproject.toml files.

    python3 docker/local_packages.py transformer         ->  ./case_serving[kserve] ./case_language ./transformer
    python3 docker/local_packages.py "case_language[service]"
    python3 docker/local_packages.py --third-party transformer   ->  every other requirement, one per line

The package list lives in each package's own dependencies; nothing else repeats it (not the
Dockerfiles, not the install script). The model package is left out: images take the model
wheel from the model index, by version and hash.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FROM_THE_MODEL_INDEX = "case-model"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")


def local_packages(root: Path = ROOT) -> dict[str, Path]:
    """Distribution name -> directory, for every package of the project."""
    found = {}
    for pyproject in sorted(root.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if "name" in project:
            found[_normal(project["name"])] = pyproject.parent
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse(requirement: str) -> tuple[str, set[str]]:
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"unreadable requirement {requirement!r}")
    extras = {extra.strip() for extra in (match.group(2) or "[]")[1:-1].split(",") if extra.strip()}
    return _normal(match.group(1)), extras


def needed(target: str, root: Path = ROOT) -> list[str]:
    """The local packages ``target`` (a directory name, optionally with extras) needs, itself last."""
    packages = local_packages(root)
    by_directory = {_normal(path.name): name for name, path in packages.items()}
    directory, extras = _parse(target)
    start = by_directory[directory]
    wanted: dict[str, set[str]] = {start: extras}
    edges: dict[str, set[str]] = {}
    pending = [start]
    while pending:  # the closure: every local package needed, with every extra asked of it
        name = pending.pop()
        edges[name] = set()
        for dependency, dependency_extras in _local_requirements(packages, name, wanted[name]):
            edges[name].add(dependency)
            if dependency not in wanted or not dependency_extras <= wanted[dependency]:
                wanted[dependency] = wanted.get(dependency, set()) | dependency_extras
                pending.append(dependency)
    # Dependencies before their dependents: older pips look a dependency up on the index when a
    # package naming it comes before the local directory that provides it.
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name not in seen:  # seen before placed: a cycle through an extra, placed once
            seen.add(name)
            for dependency in sorted(edges[name]):
                visit(dependency)
            order.append(name)

    visit(start)
    return [_spec(packages[name], wanted[name], root) for name in order]


def third_party(target: str, root: Path = ROOT) -> list[str]:
    """Every requirement from outside the project that ``target`` needs, sorted: what its hashed lock
    pins. The model wheel's own requirements are among them: it is installed without dependencies."""
    packages = local_packages(root)
    requirements: set[str] = set()
    closure = [_parse(spec.removeprefix("./")) for spec in needed(target, root)]
    closure.append((FROM_THE_MODEL_INDEX, set()))
    for name, extras in closure:
        name = next((n for n, path in packages.items() if _normal(path.name) == name), name)
        requirements.update(r for r in _requirements(packages, name, extras) if _parse(r)[0] not in packages)
    return sorted(requirements, key=str.lower)


def _requirements(packages: dict[str, Path], name: str, extras: set[str]) -> list[str]:
    project = tomllib.loads((packages[name] / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    return requirements


def _local_requirements(packages: dict[str, Path], name: str, extras: set[str]) -> list[tuple[str, set[str]]]:
    parsed = [_parse(requirement) for requirement in _requirements(packages, name, extras)]
    return [(d, e) for d, e in parsed if d in packages and d != FROM_THE_MODEL_INDEX]


def _spec(path: Path, extras: set[str], root: Path) -> str:
    suffix = f"[{','.join(sorted(extras))}]" if extras else ""
    return f"./{path.relative_to(root)}{suffix}"


if __name__ == "__main__":
    if sys.argv[1] == "--third-party":
        print("\n".join(third_party(sys.argv[2])))
    else:
        print(" ".join(needed(sys.argv[1])))
