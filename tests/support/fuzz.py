"""Schemathesis against a running service's OpenAPI document: every operation, with schema-valid
and schema-violating requests; counts the statuses it saw. The checks: no 5xx, only documented
statuses, bodies and content types.

Credentials (a bearer token of the role a route wants) are Schemathesis's authentication, not
headers forced onto every call: so a schema-violating case that leaves out a required
``Authorization`` (a document declaring the bearer scheme) goes without it, and must be refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

#: Headers for every call, or for each operation by (method in upper case, path template).
Headers = Mapping[str, str] | Callable[[str, str], Mapping[str, str]]


def _load(service_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{service_url}/openapi.json")


def operations(service_url: str, schema: Any = None) -> list:
    """The operations of the service's OpenAPI document (of ``schema`` when it was loaded already)."""
    loaded = schema if schema is not None else _load(service_url)
    return [result.ok() for result in loaded.get_all_operations()]


def _authenticate(schema: Any, headers: Headers) -> None:
    """Give every case of ``schema`` the ``headers`` of its operation, as its authentication:
    Schemathesis leaves them off a case whose point is a missing or broken credential."""

    @schema.auth(refresh_interval=None)  # per operation: nothing cached across operations
    class Credentials:
        def get(self, case: Any, context: Any) -> dict[str, str]:
            operation = context.operation
            chosen = headers(operation.method.upper(), operation.path) if callable(headers) else headers
            return dict(chosen)

        def set(self, case: Any, data: dict[str, str], context: Any) -> None:
            if data:
                case.headers = {**(case.headers or {}), **data}


def fuzz(
    service_url: str,
    path_parameters: Mapping[str, str] | None = None,
    examples: int = 500,
    headers: Headers | None = None,
) -> Counter[int]:
    """Call the service with ``examples`` generated requests and validate every answer.

    Schema-valid bodies are often still invalid for the service (a V2 FP32 tensor named ``foo``,
    an unknown label), so the check that they are accepted is left out: the service answers 400
    and says why. Half the requests to a path with one of ``path_parameters`` use its value.
    Every request carries ``headers`` (those of its operation, when a function gives them) as its
    authentication, but for those meant to lack it.
    """
    schema = _load(service_url)
    if headers is not None:
        _authenticate(schema, headers)
    known = dict(path_parameters or {})
    cases = st.one_of(
        operation.as_strategy(mode, path_parameters=names)
        for operation in operations(service_url, schema)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for names in _choices(operation.path, known)
    )
    statuses: Counter[int] = Counter()

    @given(cases)
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def keeps_contract(case) -> None:
        statuses[case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=10).status_code] += 1

    keeps_contract()
    return statuses


def _choices(path: str, known: dict[str, str]) -> list[dict[str, str] | None]:
    named = {name: value for name, value in known.items() if "{" + name + "}" in path}
    return [named, None] if named else [None]
