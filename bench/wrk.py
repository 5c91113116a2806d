"""Drive a V2 endpoint with wrk (a compiled load generator) rotating over realistic case bodies."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_LUA = r"""
local bodies = {%(bodies)s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)srequest = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "%(path)s", nil, bodies[i])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
               + summary.errors.status + summary.errors.timeout
  io.write(string.format('{"requests": %%d, "seconds": %%f, "errors": %%d, "p50_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration / 1e6, errors, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run."""

    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def lua_script(path: str, bodies: list[dict], directory: Path, headers: Mapping[str, str] | None = None) -> Path:
    """Write the wrk script posting ``bodies`` in rotation to ``path``, with ``headers`` besides the
    content type (``Authorization: Bearer ...`` for our transformer)."""
    encoded = ",\n".join("[==[" + json.dumps(body) + "]==]" for body in bodies)
    extra = "".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}\n" for k, v in (headers or {}).items())
    script = directory / f"bench-{abs(hash((path, tuple(sorted((headers or {}).items())))))}.lua"
    script.write_text(_LUA % {"bodies": encoded, "path": path, "headers": extra})
    return script


def _lua_string(value: str) -> str:
    """``value`` as a Lua string literal (a header name or value: printable ASCII, no newlines)."""
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"not a header value wrk can send: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(url: str, script: Path, concurrency: int, seconds: float) -> LoadResult:
    """One wrk run at ``concurrency`` connections for ``seconds`` (one wrk thread: 2 cores here)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    return LoadResult(
        concurrency=concurrency,
        requests=stats["requests"],
        rps=stats["requests"] / stats["seconds"],
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=stats["errors"],
    )
