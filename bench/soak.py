"""Soak: sustained load with good and bad requests while the language service flaps.

Starts the stack (language service, predictor, transformer over gRPC) on 127.0.0.1, then for
``--duration`` seconds keeps ``--concurrency`` callers busy with a weighted mix of requests, each
with the answer it must get (200 with a label, or the 4xx naming its fault). Every
``--flap-seconds`` the language service is killed (SIGKILL) and, half a period later, started
again. At the end it reports requests and outcomes by kind, latency percentiles, the breaker's
transitions and the language calls per phase (from the transformer's metrics), and resident
memory of predictor and transformer after warm-up and at the end.

It exits 1 on any unexpected answer (wrong status, timeout, connection error), on memory growth
beyond ``--memory-bound-mb``, or when, with flapping on, the breaker never opened and closed or
detection did not resume after a restart.

    python -m bench.soak [--duration 600] [--concurrency 32] [--flap-seconds 20]
    python -m bench.soak --short          # 30 s and 2 restarts at least: the test suite's mode
    python -m bench.soak --docs           # paste the last report into docs/reliability.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.tokens import crm_headers
from case_model.training.demo_data import generate_cases
from dev.processes import RunningService, start
from dev.stack import MODEL_NAME, Ports, Stack, launch

RESULTS = Path(__file__).parent / "results"
INFER = f"/v2/models/{MODEL_NAME}/infer"
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Kind:
    """One kind of request: its weight in the mix, and the status it must get."""

    name: str
    weight: float
    expected: int


KINDS = [
    Kind("good", 78, 200),
    Kind("good batch of 8", 6, 200),
    Kind("empty text", 3, 200),
    Kind("1 MB text", 0.3, 200),
    Kind("malformed JSON", 2, 400),
    Kind("wrong datatype", 2, 400),
    Kind("missing inputs", 2, 400),
    Kind("batch over the limit", 0.7, 400),
    Kind("case_id count mismatch", 1, 400),
    Kind("wrong content type", 2, 415),
    Kind("unknown model", 2, 404),
]


def _tensor(name: str, values: list[str], datatype: str = "BYTES") -> dict:
    return {"name": name, "datatype": datatype, "shape": [len(values)], "data": values}


def _body(*inputs: dict) -> bytes:
    return orjson.dumps({"inputs": list(inputs)})


class Requests:
    """Makes the (path, body, headers) of each kind from a few hundred realistic case texts."""

    def __init__(self, seed: int) -> None:
        self.texts = [case.text for case in generate_cases(400, seed=seed, prefix="S")]
        self.big = _body(_tensor("text", ["My laptop does not boot after the update. " * 24_000]))

    def make(self, kind: str, rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
        """The request for one ``kind``."""
        text = rng.choice(self.texts)
        bodies = {
            "good": lambda: _body(_tensor("text", [text])),
            "good batch of 8": lambda: _body(_tensor("text", rng.sample(self.texts, 8))),
            "empty text": lambda: _body(_tensor("text", [rng.choice(["", "   \n\t "])])),
            "1 MB text": lambda: self.big,
            "malformed JSON": lambda: _body(_tensor("text", [text]))[:-7],
            "wrong datatype": lambda: _body({"name": "text", "datatype": "FP32", "shape": [1], "data": [1.5]}),
            "missing inputs": lambda: orjson.dumps({"id": "no-inputs"}),
            "batch over the limit": lambda: _body(_tensor("text", [text] * 257)),
            "case_id count mismatch": lambda: _body(_tensor("text", [text]), _tensor("case_id", ["C-1", "C-2"])),
            "wrong content type": lambda: _body(_tensor("text", [text])),
            "unknown model": lambda: _body(_tensor("text", [text])),
        }
        path = "/v2/models/no-such-model/infer" if kind == "unknown model" else INFER
        headers = {"content-type": "text/plain"} if kind == "wrong content type" else JSON
        return path, bodies[kind](), headers


@dataclass
class Tally:
    """Outcomes of the run."""

    by_kind: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {"good": [], "all": []})
    examples: dict[str, str] = field(default_factory=dict)

    def record(self, kind: Kind, outcome: str, elapsed_ms: float) -> None:
        """Count one request; ``outcome`` is "ok" or what went wrong."""
        self.by_kind[kind.name] += 1
        self.latencies_ms["all"].append(elapsed_ms)
        if kind.name == "good":
            self.latencies_ms["good"].append(elapsed_ms)
        if outcome != "ok":
            self.unexpected[f"{kind.name}: {outcome}"] += 1


async def _one(session: aiohttp.ClientSession, base: str, kind: Kind, request, tally: Tally) -> None:
    path, body, headers = request
    started = time.perf_counter()
    try:
        async with session.post(base + path, data=body, headers=headers) as response:
            payload = await response.read()
            outcome = _judge(kind, response.status, payload)
    except TimeoutError:
        outcome = "timeout"
    except aiohttp.ClientError as error:
        outcome = f"connection error ({type(error).__name__})"
    tally.record(kind, outcome, (time.perf_counter() - started) * 1000)


def _judge(kind: Kind, status: int, payload: bytes) -> str:
    """ "ok" when the answer is the one ``kind`` must get, else what was wrong."""
    if status != kind.expected:
        return f"status {status}"
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "body not JSON"
    if status != 200:
        return "ok" if isinstance(document.get("error"), str) and document["error"] else "no V2 error body"
    outputs = {output["name"]: output["data"] for output in document.get("outputs", [])}
    return "ok" if "label" in outputs and "status" in outputs else "outputs missing"


async def _caller(worker: int, session, base: str, requests: Requests, load: Load, seed: int, tally) -> None:
    rng = random.Random(seed * 1000 + worker)
    weights = [kind.weight for kind in KINDS]
    while load.going():
        kind = rng.choices(KINDS, weights)[0]
        await _one(session, base, kind, requests.make(kind.name, rng), tally)


Sample = tuple[str, frozenset]  # (sample name, its labels)


async def _metrics(session: aiohttp.ClientSession, base: str) -> dict[Sample, float]:
    """The transformer's case_classifier_* samples, by name and labels."""
    async with session.get(f"{base}/metrics") as response:
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("case_classifier_")
        for sample in family.samples
    }


def _value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _calls(samples: dict[Sample, float], outcome: str) -> float:
    return _value(samples, "case_classifier_language_calls_total", outcome=outcome)


@dataclass
class Load:
    """How long the callers keep going: the duration, and at least until the flapping is done.

    A restart under load can take many seconds on a busy machine; the load lasts until every
    restart asked for has happened and been checked, so a slow machine gives a longer run, never
    fewer restarts.
    """

    deadline: float
    #: Set while a flapper still has restarts to make (it clears it when done).
    flapping: bool = False

    def going(self) -> bool:
        """Whether callers send another request."""
        return self.flapping or time.monotonic() < self.deadline


@dataclass
class Flapper:
    """Kills and restarts the language service; records, per restart, whether detection resumed."""

    stack: Stack
    logs: Path
    period: float
    running: RunningService
    minimum: int = 0
    restarts: int = 0
    resumed: list[bool] = field(default_factory=list)

    async def run(self, load: Load, session: aiohttp.ClientSession, base: str) -> None:
        """Until the load's deadline and ``minimum`` restarts: up for ``period``, killed for
        ``period / 2``, up again. The load goes on until this returns."""
        try:
            await self._flap(load, session, base)
        finally:
            load.flapping = False

    async def _flap(self, load: Load, session: aiohttp.ClientSession, base: str) -> None:
        loop = asyncio.get_running_loop()
        while self.restarts < self.minimum or time.monotonic() + self.period * 1.5 < load.deadline:
            await asyncio.sleep(self.period)
            self.running.process.kill()
            self.running.process.wait()
            await asyncio.sleep(self.period / 2)
            self.running = await loop.run_in_executor(None, start, self.stack.language(), self.logs)
            self.restarts += 1
            self.resumed.append(await self._detection_resumes(session, base))

    async def _detection_resumes(self, session: aiohttp.ClientSession, base: str, within: float = 10.0) -> bool:
        """Whether a language-service call succeeds again within ``within`` seconds of the restart.

        Checked right after each restart, with a request of its own in case the load has ended,
        so a slow restart on a busy machine cannot leave a restart unchecked.
        """
        before = _calls(await _metrics(session, base), "ok")
        body = _body(_tensor("text", ["My laptop does not charge since the update."]))
        until = time.monotonic() + within
        while time.monotonic() < until:
            async with session.post(base + INFER, data=body, headers=JSON) as response:
                await response.read()
            if _calls(await _metrics(session, base), "ok") > before:
                return True
            await asyncio.sleep(0.2)
        return False


def _rss_mb(running: dict[str, RunningService]) -> dict[str, float]:
    """Resident memory of predictor and transformer (the language service is restarted by design)."""
    return {name: psutil.Process(r.pid).memory_info().rss / 2**20 for name, r in running.items() if name != "language"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 0.50), 1),
        "p99": round(_percentile(values, 0.99), 1),
        "max": round(max(values, default=float("nan")), 1),
    }


async def _drive(args, stack: Stack, running: dict[str, RunningService], logs: Path) -> dict:
    base = stack.url(stack.ports.http)
    requests = Requests(args.seed)
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency + 2)
    # Every request as the CRM: the transformer classifies for a token of role crm only.
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=crm_headers()) as session:
        warm = Tally()
        warm_until = time.monotonic() + min(10.0, args.duration / 10)
        rng = random.Random(args.seed)
        while time.monotonic() < warm_until:  # warm-up: allocator pools and caches fill before the baseline
            await _one(session, base, KINDS[0], requests.make("good", rng), warm)
        rss_start = _rss_mb(running)
        metrics_start = await _metrics(session, base)
        started = time.monotonic()
        load = Load(started + args.duration, flapping=args.flap_seconds > 0)
        flapper = None
        tasks = [_caller(worker, session, base, requests, load, args.seed, tally) for worker in range(args.concurrency)]
        if args.flap_seconds > 0:
            flapper = Flapper(stack, logs, args.flap_seconds, running.pop("language"), args.restarts)
            tasks.append(flapper.run(load, session, base))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        metrics_end = await _metrics(session, base)
        rss_end = _rss_mb(running)
        if flapper is not None:
            running["language"] = flapper.running
    delta = {key: metrics_end.get(key, 0.0) - metrics_start.get(key, 0.0) for key in metrics_end}
    growth = {name: rss_end[name] - rss_start[name] for name in rss_start}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "flap_seconds": args.flap_seconds,
        "requests": sum(tally.by_kind.values()),
        "requests_per_s": round(sum(tally.by_kind.values()) / elapsed, 1),
        "by_kind": dict(tally.by_kind.most_common()),
        "unexpected": dict(tally.unexpected),
        "latency_ms": {name: _summary(values) for name, values in tally.latencies_ms.items()},
        "language_calls": {
            outcome: int(_calls(delta, outcome)) for outcome in ("ok", "error", "timeout", "skipped_open_breaker")
        },
        "language_fallbacks": int(_value(delta, "case_classifier_language_fallbacks_total")),
        "breaker_transitions": {
            state: int(_value(delta, "case_classifier_language_breaker_transitions_total", state=state))
            for state in ("open", "half_open", "closed")
        },
        "language_restarts": flapper.restarts if flapper else 0,
        "detection_resumed": flapper.resumed if flapper else [],
        "rss_mb": {name: {"start": round(rss_start[name], 1), "end": round(rss_end[name], 1)} for name in rss_start},
        "rss_growth_bound_mb": args.memory_bound_mb,
        "rss_within_bound": all(g <= args.memory_bound_mb for g in growth.values()),
    }


def problems(report: dict) -> list[str]:
    """Why the run failed, if it did."""
    found = [f"{count} unexpected: {what}" for what, count in report["unexpected"].items()]
    if not report["rss_within_bound"]:
        found.append(f"resident memory grew beyond {report['rss_growth_bound_mb']} MB: {report['rss_mb']}")
    if report["flap_seconds"] > 0:
        if not report["breaker_transitions"]["open"] or not report["breaker_transitions"]["closed"]:
            found.append(f"the breaker did not open and close: {report['breaker_transitions']}")
        if not report["detection_resumed"] or not all(report["detection_resumed"]):
            found.append(f"detection did not resume after every restart: {report['detection_resumed']}")
    return found


def render(report: dict) -> str:
    """The report as Markdown."""
    lines = [
        f"Soak {report['date']}: {report['duration_s']} s at concurrency {report['concurrency']}, "
        f"language service killed every {report['flap_seconds']} s ({report['language_restarts']} restarts)",
        "",
        "| request kind | sent | unexpected answers |",
        "|---|---:|---:|",
    ]
    for kind in KINDS:
        bad = sum(count for what, count in report["unexpected"].items() if what.startswith(kind.name + ":"))
        lines.append(f"| {kind.name} (expects {kind.expected}) | {report['by_kind'].get(kind.name, 0):,} | {bad} |")
    good, every = report["latency_ms"]["good"], report["latency_ms"]["all"]
    rss = ", ".join(f"{n} {v['start']:.0f} -> {v['end']:.0f} MB" for n, v in report["rss_mb"].items())
    total = f"**{report['requests']:,}** ({report['requests_per_s']}/s)"
    lines += [
        f"| **all** | {total} | **{sum(report['unexpected'].values())}** |",
        "",
        f"- latency, good requests: p50 {good['p50']} ms, p99 {good['p99']} ms, max {good['max']} ms; "
        f"all requests: p99 {every['p99']} ms",
        f"- language calls: {report['language_calls']}; fallback answers: {report['language_fallbacks']:,}",
        f"- breaker transitions: {report['breaker_transitions']}; detection resumed after each restart: "
        f"{sum(report['detection_resumed'])}/{len(report['detection_resumed'])}",
        f"- resident memory after warm-up -> end: {rss} (bound: +{report['rss_growth_bound_mb']} MB each)",
    ]
    return "\n".join(lines)


def paste_into_docs(report: dict, page: Path = Path(__file__).parents[1] / "docs" / "reliability.md") -> None:
    """Replace the soak report in docs/reliability.md (between its markers) with ``report``."""
    start, end = "<!-- soak-report -->", "<!-- /soak-report -->"
    text = page.read_text()
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    command = "python -m bench.soak" + (
        "" if report["duration_s"] >= 600 else f" --duration {report['duration_s']:.0f}"
    )
    page.write_text(f"{head}{start}\n`{command}`: {render(report)}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the report; 0 when nothing unexpected happened."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (after warm-up)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent callers (the benchmark's 32)")
    parser.add_argument("--flap-seconds", type=float, default=20.0, help="language service up-period; 0: no flapping")
    parser.add_argument("--memory-bound-mb", type=float, default=64.0, help="allowed RSS growth per service")
    parser.add_argument("--request-timeout", type=float, default=10.0, help="seconds before a request counts as hung")
    parser.add_argument("--model-dir", help="model artifact directory (default: the installed demo model)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--report", type=Path, default=RESULTS / "soak-latest.json")
    parser.add_argument("--restarts", type=int, default=0, help="language restarts the load lasts for, at least")
    parser.add_argument("--short", action="store_true", help="30 s, flapping every 4 s, 2 restarts at least")
    parser.add_argument("--docs", action="store_true", help="only paste the --report file into docs/reliability.md")
    args = parser.parse_args(argv)
    if args.docs:
        paste_into_docs(json.loads(args.report.read_text()))
        return 0
    if args.short:
        args.duration, args.flap_seconds, args.restarts = 30.0, 4.0, max(args.restarts, 2)
    model_dir = args.model_dir
    if model_dir is None:
        from dev.install import ensure_model_installed, installed_artifact_dir

        ensure_model_installed()
        model_dir = str(installed_artifact_dir())
    # The breaker must be able to close within an up phase; the cache is off so every case asks.
    reset = min(5.0, args.flap_seconds / 4) if args.flap_seconds > 0 else 5.0
    stack = Stack(
        ports=Ports.any(),
        model_dir=model_dir,
        transformer_args=("--language-cache-size", "0", "--breaker-reset-seconds", str(reset)),
    )
    logs = Path(tempfile.mkdtemp(prefix="case-soak-"))
    # Each service on ports it holds (the language service flaps on its own port later).
    launched = launch(stack, logs)
    running: dict[str, RunningService] = launched.processes
    try:
        report = asyncio.run(_drive(args, launched.stack, running, logs))
    finally:
        for process in reversed(list(running.values())):
            process.stop()
    report["problems"] = problems(report)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    for problem in report["problems"]:
        print(f"FAILED: {problem}")
    print(f"(report: {args.report}; service logs: {logs})")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
