"""Import every module of a deployable against the model wheel just installed beside it.

    python docker/imports.py transformer            # or predictor, "case_language[service]", ...

The images take the model wheel from the model index at a pinned version, and the wheel carries
the code the services call (the text steps, the status flow). A wheel built before a function the
deployable needs existed would otherwise build a working image that crashes at its first start;
run at image build (docker/install.sh), the mismatch fails the build instead, naming the missing
name. Only the project's own imports count: a module that needs an optional third-party package
this image does not install (an extra it was not built with) is skipped, and said so.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from local_packages import FROM_THE_MODEL_INDEX, local_packages

#: The project's own top-level modules: each package directory's name (the model wheel's too).
PROJECT_MODULES = frozenset(
    {path.name for path in local_packages().values()} | {FROM_THE_MODEL_INDEX.replace("-", "_")}
)
#: Scripts that only their tool runs (alembic's migration environment reads alembic's context).
SCRIPTS = (".migrations",)


def _is_project_module(name: str) -> bool:
    return name.split(".")[0] in PROJECT_MODULES


def check(package: str) -> list[str]:
    """Import every module of ``package``; returns the modules skipped for an absent third-party
    package. Raises the first ImportError that concerns the project's own code."""
    root = importlib.import_module(package)
    skipped = []
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if any(part in module.name for part in SCRIPTS):
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as error:
            if error.name is None or _is_project_module(error.name):
                raise
            skipped.append(f"{module.name} (needs {error.name})")
    return skipped


def main(argv: list[str]) -> int:
    """Entry point: one deployable, as docker/install.sh names it (extras ignored)."""
    package = argv[0].split("[")[0]
    skipped = check(package)
    for line in skipped:
        print(f"docker/imports.py: skipped {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
