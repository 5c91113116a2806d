"""CustomResourceDefinitions kept as test data (tests/data, README there), and the two checks a
cluster's API server makes with their schemas: validation, and pruning (fields it would drop
silently, which validation alone never reports)."""

from __future__ import annotations

import functools
import gzip

import yaml

from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"


@functools.cache  # tens of thousands of lines of YAML: parsed once per process
def crds(name: str) -> dict[tuple[str, str], dict]:
    """The definitions of ``tests/data/<name>``, by (group, kind)."""
    with gzip.open(DATA / name) as handle:
        found = [d for d in yaml.safe_load_all(handle) if d and d.get("kind") == "CustomResourceDefinition"]
    return {(d["spec"]["group"], d["spec"]["names"]["kind"]): d for d in found}


def schema(name: str, api_version: str, kind: str) -> dict:
    """The openAPIV3Schema of ``kind`` at ``api_version`` (group/version) in ``tests/data/<name>``;
    KeyError or StopIteration when the file has no such kind or version."""
    group, version = api_version.split("/")
    crd = crds(name)[(group, kind)]
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served", True))
    return served["schema"]["openAPIV3Schema"]


def pruned(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would drop silently: not in the schema where the schema lists fields."""
    problems = []
    if isinstance(value, dict) and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        for key, item in value.items():
            if key not in schema["properties"]:
                problems.append(f"{path}/{key}")
            else:
                problems += pruned(item, schema["properties"][key], f"{path}/{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += pruned(item, schema["items"], f"{path}/{i}")
    return problems
