"""``make bench``: the service benchmark table, every figure from this one invocation.

Starts each setup on 127.0.0.1 itself, warms it up, drives it with wrk at concurrency 1, 8, 32
and 128 over a few hundred synthetic case logs, records cold start (process start to ready) and
resident memory and the CPU seconds all of a setup's processes spent per 1,000 answers over each
measured window (``bench/cpu.py``), prints one Markdown table with ratios against the plain KServe
chain, and writes
``bench/results/latest.json`` and ``bench/results/latency_throughput.png``.

    python -m bench [--seconds 5] [--concurrency 1,8,32,128]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import alternatives, cpu, hostile, tokens, wrk
from bench.pickled_model import write_pickled_model
from dev.install import ensure_model_installed, installed_artifact_dir
from dev.processes import LOOPBACK, RunningService, Service, python_module, start_on_ports
from dev.stack import DEPLOYED_HOP, MODEL_NAME, Ports, Stack, launch

RESULTS = Path(__file__).parent / "results"
INFER = f"/v2/models/{MODEL_NAME}/infer"
ALL_SETUPS = (
    "chain-nolog",
    "chain-noauth",
    "chain",
    "chain-grpc",
    "predictor",
    "plain-predictor",
    "plain-chain",
    "mlserver",
    "mlserver-batching",
    "fastapi",
)
#: The language cache is off in the benchmark: the bodies rotate over 400 texts, production cases
#: are unique, so every case pays for its detection call here as it would there.
NO_CACHE = ("--language-cache-size", "0")
NOLOG = "ours: full chain, no prediction log"
NOAUTH = "ours: full chain, authentication off"


@dataclass
class SetupResult:
    """One setup's figures."""

    name: str
    runs: list[wrk.LoadResult] = field(default_factory=list)
    cold_start_s: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    #: First request after ready; first request of a later new connection; p50 on an open one.
    first_request_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: CPU seconds of all the setup's processes per 1,000 answers, one per run (as ``runs``).
    cpu_per_1000: list[float] = field(default_factory=list)
    #: The same, per process (service name), one per run.
    cpu_per_1000_by_process: list[dict[str, float]] = field(default_factory=list)


def _bodies(texts: list[str]) -> list[dict]:
    return [
        {"id": f"b{i}", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}]}
        for i, text in enumerate(texts)
    ]


#: Starts a setup's services in order into a log directory, each on ports it holds (again on
#: others if one was taken meanwhile), those started first stopped if one fails; returns them
#: and the URL to load.
Setup = Callable[[Path], tuple[list[RunningService], str]]


def _stack_setup(stack: Stack, url_port: str, names: Sequence[str] | None = None) -> Setup:
    """The services ``names`` of ``stack`` (default: all), loaded at the port named ``url_port``."""

    def started(log_dir: Path) -> tuple[list[RunningService], str]:
        launched = launch(stack, log_dir, names)
        return list(launched.processes.values()), launched.stack.url(getattr(launched.stack.ports, url_port))

    return started


def _one(starter: alternatives.Starter) -> Setup:
    def started(log_dir: Path) -> tuple[list[RunningService], str]:
        running, url = starter(log_dir)
        return [running], url

    return started


def _plain_chain(pickled_dir: str, with_transformer: bool) -> Setup:
    """KServe's own predictor on the pickled model; with ``with_transformer`` KServe's own
    transformer in front, pointed at the port the predictor got."""

    def predictor(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "bench.plain_kserve", "predictor", "--model-dir", pickled_dir, "--http_port", str(ports[0])
        )
        return Service("plain-predictor", argv, f"http://{LOOPBACK}:{ports[0]}/v2/models/{MODEL_NAME}/ready")

    def started(log_dir: Path) -> tuple[list[RunningService], str]:
        running, (predictor_port,) = start_on_ports(predictor, 1, log_dir)
        if not with_transformer:
            return [running], f"http://{LOOPBACK}:{predictor_port}"

        def transformer(ports: tuple[int, ...]) -> Service:
            argv = python_module(
                "bench.plain_kserve",
                "transformer",
                "--http_port",
                str(ports[0]),
                "--predictor_host",
                f"{LOOPBACK}:{predictor_port}",
                "--predictor_protocol",
                "v2",
            )
            return Service("plain-transformer", argv, f"http://{LOOPBACK}:{ports[0]}/v2/models/{MODEL_NAME}/ready")

        try:
            front, (port,) = start_on_ports(transformer, 1, log_dir)
        except BaseException:
            running.stop()
            raise
        return [running, front], f"http://{LOOPBACK}:{port}"

    return started


def _measure(
    name: str, setup: Setup, bodies: list[dict], args, tmp: Path, headers: Mapping[str, str] | None = None
) -> SetupResult:
    """Warm-up and load figures of one setup; every request carries ``headers`` (our chain's
    transformer wants a CRM's token)."""
    result = SetupResult(name)
    running, url = setup(tmp / name.replace(" ", "_"))
    try:
        # Process start to ready, of the start that got its ports (a retried one is not counted).
        result.cold_start_s = {process.service.name: round(process.ready_seconds, 2) for process in running}
        result.first_request_ms = _first_request(url, bodies, headers)
        script = wrk.lua_script(INFER, bodies, tmp, headers)
        wrk.run(url, script, 8, 2)  # warm-up
        pids = {process.service.name: process.pid for process in running}
        for concurrency in args.concurrency:
            before = {name: cpu.cpu_seconds_of(pid) for name, pid in pids.items()}
            run = wrk.run(url, script, concurrency, args.seconds)
            spent = {name: cpu.cpu_seconds_of(pid) - before[name] for name, pid in pids.items()}
            result.runs.append(run)
            by_process = {name: round(cpu.per_thousand(seconds, run.requests), 3) for name, seconds in spent.items()}
            result.cpu_per_1000_by_process.append(by_process)
            result.cpu_per_1000.append(round(cpu.per_thousand(sum(spent.values()), run.requests), 3))
            print(f"  {name} c={concurrency}: {run}, {result.cpu_per_1000[-1]:.3f} CPU s / 1,000", flush=True)
        for process in running:
            tree = psutil.Process(process.pid)  # with its workers (Gunicorn)
            rss = sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)])
            result.rss_mb[process.service.name] = round(rss / 2**20)
    finally:
        for process in reversed(running):
            process.stop()
    return result


def _first_request(
    url: str, bodies: list[dict], headers: Mapping[str, str] | None = None
) -> tuple[float, float, float]:
    """Warm-up as callers see it (ms): the very first request after ready, the first request of
    later new connections (median of 5: TCP and per-connection set-up, on a warm process), and the
    median of 30 requests on one open connection."""
    import httpx

    def first_on_new_connection(body: dict) -> float:
        with httpx.Client(timeout=30, headers=headers) as client:
            started = time.perf_counter()
            client.post(url + INFER, json=body).raise_for_status()
            return (time.perf_counter() - started) * 1000

    very_first = first_on_new_connection(bodies[0])
    later_firsts = [first_on_new_connection(body) for body in bodies[1:6]]
    steady = []
    with httpx.Client(timeout=30, headers=headers) as client:
        client.post(url + INFER, json=bodies[6]).raise_for_status()
        for body in bodies[7:37]:
            started = time.perf_counter()
            client.post(url + INFER, json=body).raise_for_status()
            steady.append((time.perf_counter() - started) * 1000)
    return round(very_first, 1), round(statistics.median(later_firsts), 1), round(statistics.median(steady), 1)


def _floor(model, texts: list[str]) -> dict[str, float]:
    for text in texts[:20]:
        model.predict([text])
    single = []
    for text in texts[:300]:
        started = time.perf_counter()
        model.predict([text])
        single.append(time.perf_counter() - started)
    batch = (texts * 4)[:1024]
    started = time.perf_counter()
    model.predict(batch)
    return {
        "single_p50_ms": statistics.median(single) * 1000,
        "batch_1024_texts_per_s": 1024 / (time.perf_counter() - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    parser.add_argument("--concurrency", default="1,8,32,128", type=lambda v: [int(c) for c in v.split(",")])
    parser.add_argument(
        "--setups",
        default=",".join(ALL_SETUPS),
        type=lambda v: set(v.split(",")),
        help="which setups to run (the ratio column needs plain-chain)",
    )
    args = parser.parse_args()

    from case_model import clean_text, load
    from case_model.training.demo_data import generate_cases

    version = ensure_model_installed()
    model_dir = str(installed_artifact_dir())
    raw = [case.text for case in generate_cases(400, seed=99, prefix="W")]
    cleaned = [text for text in (clean_text(t) for t in raw) if text]
    served = load(Path(model_dir))
    floor = _floor(served, cleaned)
    hostile_texts = hostile.measure()
    tmp = Path(tempfile.mkdtemp(prefix="case-bench-"))
    # The alternatives load a pickle (our services never do): the same model, refitted and checked.
    pickled_dir = str(write_pickled_model(served, Path("data"), cleaned, tmp / "pickled"))
    results = []

    # The chains log every answer to a feedback service on SQLite, as `make run` does; the "no
    # prediction log" chain is the same without it, so the pair measures what the log costs. The
    # transformer classifies for a CRM's token only, and presents a service token to the log.
    crm = tokens.crm_headers()
    service_token = str(tokens.service_token_file(tmp / "tokens"))
    store = f"sqlite:///{tmp / 'feedback.sqlite'}"
    stack = Stack(
        ports=Ports.any(),
        feedback_store=store,
        predictor_protocol=DEPLOYED_HOP,
        transformer_args=NO_CACHE,
        service_token_file=service_token,
    )
    nolog_stack = Stack(
        ports=Ports.any(), predictor_protocol=DEPLOYED_HOP, transformer_args=NO_CACHE, service_token_file=service_token
    )
    # The same chain as deployed but for the token checks, so the pair measures what they cost.
    noauth_stack = Stack(
        ports=Ports.any(),
        feedback_store=store,
        predictor_protocol=DEPLOYED_HOP,
        transformer_args=(*NO_CACHE, "--auth", "false"),
        feedback_args=("--auth", "false"),
        service_token_file=service_token,
    )
    grpc_stack = Stack(
        ports=Ports.any(),
        feedback_store=store,
        predictor_protocol="grpc-v2",
        transformer_args=NO_CACHE,
        service_token_file=service_token,
    )
    # key: (name, how to start it, request bodies, headers each request carries)
    setups: dict[str, tuple[str, Setup, list[dict], Mapping[str, str]]] = {
        "chain-nolog": (NOLOG, _stack_setup(nolog_stack, "http"), _bodies(raw), crm),
        "chain-noauth": (NOAUTH, _stack_setup(noauth_stack, "http"), _bodies(raw), crm),
        "chain": ("ours: full chain", _stack_setup(stack, "http"), _bodies(raw), crm),
        "chain-grpc": ("ours: full chain, gRPC hop", _stack_setup(grpc_stack, "http"), _bodies(raw), crm),
        "predictor": (
            "ours: predictor alone",
            _stack_setup(stack, "predictor_http", ["predictor"]),
            _bodies(cleaned),
            {},
        ),
        "plain-predictor": ("plain KServe predictor", _plain_chain(pickled_dir, False), _bodies(cleaned), {}),
        "plain-chain": ("plain KServe chain", _plain_chain(pickled_dir, True), _bodies(raw), {}),
    }
    setups["fastapi"] = (
        "FastAPI + Gunicorn (2 Uvicorn workers)",
        _one(alternatives.fastapi_gunicorn(pickled_dir)),
        _bodies(raw),
        {},
    )
    found = alternatives.mlserver(pickled_dir, tmp)
    if found:
        setups["mlserver"] = ("MLServer, sklearn runtime", _one(found), _bodies(cleaned), {})
        size, wait = alternatives.BEST_BATCHING
        batching = alternatives.mlserver(pickled_dir, tmp, alternatives.BEST_BATCHING)
        assert batching is not None
        name = f"MLServer, adaptive batching ({size}, {wait * 1000:g} ms)"
        setups["mlserver-batching"] = (name, _one(batching), _bodies(cleaned), {})
    elif {"mlserver", "mlserver-batching"} & args.setups:
        print(f"MLServer not installed in {alternatives.MLSERVER_VENV} (make bench makes it): skipped", flush=True)
    for key, (name, setup, bodies, headers) in setups.items():
        if key in args.setups:
            print(name, flush=True)
            results.append(_measure(name, setup, bodies, args, tmp, headers))
    report(results, floor, hostile_texts, version, args)


def report(results: list[SetupResult], floor: dict[str, float], hostile_texts: dict, version: str, args) -> None:
    """Print the table, write JSON and the plot."""
    machine = f"{platform.machine()}, {psutil.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB"
    print(
        f"\n## Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, model {version}, {machine}, "
        f"wrk {args.seconds:g} s per run\n"
    )
    print("| setup | concurrency | req/s | p50 ms | p99 ms | errors | CPU s per 1,000 answers |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        for run, cpu_cost in zip(result.runs, result.cpu_per_1000, strict=True):
            print(
                f"| {result.name} | {run.concurrency} | {run.rps:,.0f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | "
                f"{run.errors} | {cpu_cost:.3f} |"
            )
    print(f"| in-process floor, single predict | 1 | | {floor['single_p50_ms']:.2f} | | | |")
    print(f"| in-process floor, batch of 1,024 | | {floor['batch_1024_texts_per_s']:,.0f} texts/s | | | | |")
    plain = [r for r in results if r.name == "plain KServe chain"]
    baseline = {run.concurrency: run for run in plain[0].runs} if plain else {}
    print("\n| setup | req/s vs plain KServe chain, per concurrency | cold start s | RSS MB | first request ms |")
    print("|---|---|---|---|---|")
    for result in results:
        ratios = ", ".join(
            f"c{run.concurrency}: {_ratio(run.rps, baseline[run.concurrency].rps)}"
            for run in result.runs
            if run.concurrency in baseline
        )
        cold = ", ".join(f"{k} {v}" for k, v in result.cold_start_s.items())
        rss = ", ".join(f"{k} {v:.0f}" for k, v in result.rss_mb.items())
        first = "{} (new connection later: {}; open connection: {})".format(*result.first_request_ms)
        print(f"| {result.name} | {ratios} | {cold} | {rss} | {first} |")
    compare(results, NOLOG, "prediction log")
    compare(results, NOAUTH, "authentication")
    hostile.report(hostile_texts)
    targets(results, floor)
    if set(args.setups) != set(ALL_SETUPS):
        print("\n(partial run: bench/results not written)")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "version": version,
                "machine": machine,
                "floor": floor,
                "hostile_texts": hostile_texts,
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    plot(results, RESULTS / "latency_throughput.png")
    print(f"\nwrote {RESULTS / 'latest.json'} and {RESULTS / 'latency_throughput.png'}")


def _ratio(value: float, base: float) -> str:
    """``value / base`` as a ratio; "no answers" when the base answered nothing in its window (a
    plain chain at c=128 on a loaded machine), which must not end the report before its targets."""
    return f"{value / base:.2f}x" if base else "no answers in the base run"


def compare(results: list[SetupResult], other: str, what: str) -> None:
    """The full chain as deployed against the same chain with ``what`` off (``other``), this run."""
    by_name = {
        r.name: {run.concurrency: (run, cost) for run, cost in zip(r.runs, r.cpu_per_1000, strict=True)}
        for r in results
    }
    on, off = by_name.get("ours: full chain", {}), by_name.get(other, {})
    if not on or not off:
        return
    print(f"\n| {what} | concurrency | req/s on / off | p50 ms on / off | p99 ms on / off | CPU s / 1,000 on / off |")
    print("|---|---|---|---|---|---|")
    for c in sorted(set(on) & set(off)):
        (a, cost_a), (b, cost_b) = on[c], off[c]
        cpu_ratio = f"{cost_a / cost_b:.2f}x" if cost_b else "-"
        print(
            f"| on vs off | {c} | {_ratio(a.rps, b.rps)} ({a.rps:,.0f} / {b.rps:,.0f}) | "
            f"{a.p50_ms:.1f} / {b.p50_ms:.1f} | {a.p99_ms:.1f} / {b.p99_ms:.1f} ({_ratio(a.p99_ms, b.p99_ms)}) | "
            f"{cost_a:.3f} / {cost_b:.3f} ({cpu_ratio}) |"
        )


def targets(results: list[SetupResult], floor: dict[str, float]) -> None:
    """The issue's targets, each a ratio from this run's table, with pass or fail."""
    by_name = {r.name: {run.concurrency: run for run in r.runs} for r in results}
    cost = {
        r.name: dict(zip([run.concurrency for run in r.runs], r.cpu_per_1000_by_process, strict=True)) for r in results
    }
    chain, plain_chain = by_name.get("ours: full chain", {}), by_name.get("plain KServe chain", {})
    nolog, predictor = by_name.get(NOLOG, {}), by_name.get("ours: predictor alone", {})
    batching = next((r for name, r in by_name.items() if name.startswith("MLServer, adaptive")), {})
    lines = []

    def verdict(ok: bool) -> str:
        return "pass" if ok else "FAIL"

    if 32 in chain and 32 in batching:
        rps, p99 = chain[32].rps / batching[32].rps, chain[32].p99_ms / batching[32].p99_ms
        lines.append(
            f"full chain c32 vs MLServer with adaptive batching: {rps:.2f}x req/s (>= 2.0x), p99 {p99:.2f}x "
            f"(<= 0.5x): {verdict(rps >= 2.0 and p99 <= 0.5)}"
        )
    if 32 in chain and 32 in nolog:
        rps = chain[32].rps / nolog[32].rps
        on = cost["ours: full chain"][32].get("transformer", 0.0)
        off = cost[NOLOG][32].get("transformer", 0.0)
        cpu_ratio = on / off if off else float("inf")
        lines.append(
            f"prediction log on vs off c32: {rps:.2f}x req/s (>= 0.95x), transformer CPU per answer "
            f"{cpu_ratio:.2f}x (<= 1.05x): {verdict(rps >= 0.95 and cpu_ratio <= 1.05)}"
        )
    if 128 in predictor and floor.get("batch_1024_texts_per_s"):
        share = predictor[128].rps / floor["batch_1024_texts_per_s"]
        lines.append(
            f"predictor alone c128: {share:.0%} of the in-process batched floor (>= 40%): {verdict(share >= 0.4)}"
        )
    if 1 in chain and 1 in batching:
        ratio = chain[1].p50_ms / batching[1].p50_ms
        lines.append(f"full chain c1 p50 vs MLServer's: {ratio:.2f}x (<= 0.5x): {verdict(ratio <= 0.5)}")
    if 32 in chain and 32 in plain_chain and plain_chain[32].rps:
        ratio = chain[32].rps / plain_chain[32].rps
        lines.append(f"full chain c32 vs the plain KServe chain: {ratio:.2f}x req/s (>= 5x): {verdict(ratio >= 5)}")
    errors = sum(run.errors for r in results if r.name.startswith("ours") for run in r.runs)
    lines.append(f"errors in our setups, all concurrencies: {errors}")
    colds = [s for r in results if r.name.startswith("ours") for k, s in r.cold_start_s.items() if k == "predictor"]
    if colds:
        lines.append(f"predictor process start to ready: {max(colds):.2f} s at most")
    print("\nTargets:\n" + "\n".join(f"- {line}" for line in lines))


def plot(results: list[SetupResult], path: Path) -> None:
    """p99 latency and throughput against concurrency, one line per setup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for result in results:
        c = [run.concurrency for run in result.runs]
        left.plot(c, [run.p99_ms for run in result.runs], marker="o", label=result.name)
        right.plot(c, [run.rps for run in result.runs], marker="o", label=result.name)
    for axes, label in ((left, "p99 latency (ms)"), (right, "requests/s")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("concurrent connections")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    left.set_yscale("log")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
