"""``case-rollout {deploy,promote,rollback,status,analyze}``, with kubectl's habits.

    case-rollout deploy --model-version 1.3.0 --canary 10 \
        --digest predictor=sha256:<64 hex> --digest transformer=sha256:<64 hex> [--dry-run[=client|server]]
    case-rollout promote -n case-classifier --context prod
    case-rollout rollback
    case-rollout status
    case-rollout analyze --prometheus-url http://prometheus:9090 --feedback-url http://feedback:8083
    case-rollout promote --if-healthy --prometheus-url ... --feedback-url ...

Each change rewrites the overlay's ``release/`` files (see :mod:`case_rollout.release`), applies
the release's objects as the overlay renders them, and waits for readiness. ``deploy`` takes two
steps: the idle slot loads the new version with no traffic and is waited for, then the route gives
it its share; a failed wait leaves the traffic where it was. ``--dry-run`` (``=client``) prints
the new release and contacts no cluster; ``--dry-run=server`` has the API server check the
apply of a scratch copy and keeps nothing. Flags go before or after the step, as kubectl's do.

``deploy`` takes the new version's images by digest, one ``--digest component=sha256:...`` per
component, as CI's ``images`` job printed them when it pushed, scanned and signed them for the
release: the release files name those bytes, never a tag the registry could move.

The command was ``case-classifier rollout <step>``, a name that read as the whole service's: that
spelling still works for one release (:func:`legacy_main`), with a warning on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from case_rollout import analysis, release
from case_rollout.cluster import (
    Connection,
    RolloutError,
    api,
    apply,
    get,
    get_route,
    scratch_copy,
    summary,
    wait_ready,
    weights,
)

#: Flags every level accepts (kubectl habits: ``rollout deploy ... --dry-run`` works).
DEFAULTS = {
    "namespace": "case-classifier",
    "context": None,
    "kubeconfig": None,
    "overlay": "manifests/overlays/prod",
    "timeout": 600.0,
    "dry_run": None,
}


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    suppress = argparse.SUPPRESS  # so a flag given at one level is not reset by another's default
    common.add_argument("-n", "--namespace", default=suppress, help="namespace (default: case-classifier)")
    common.add_argument("--context", default=suppress, help="kubeconfig context")
    common.add_argument("--kubeconfig", default=suppress, help="kubeconfig file (before KUBECONFIG, in-cluster)")
    common.add_argument(
        "--overlay",
        default=suppress,
        help="the kustomize overlay holding release/ (default: manifests/overlays/prod)",
    )
    common.add_argument("--timeout", type=float, default=suppress, help="seconds to wait for readiness (600)")
    common.add_argument(
        "--dry-run",
        choices=("client", "server"),
        default=suppress,
        help="client: print the release, contact no cluster; server: the API server checks it, keeps nothing",
    )
    return common


#: The command's name, and the one it had (``case-classifier rollout <step>``), kept for one release.
PROG = "case-rollout"
LEGACY_PROG = "case-classifier"


def build_parser(legacy: bool = False) -> argparse.ArgumentParser:
    """The ``case-rollout`` command line; with ``legacy``, the old ``case-classifier rollout`` one,
    whose steps sit one level down under the word ``rollout``."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog=LEGACY_PROG if legacy else PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    if legacy:
        top = parser.add_subparsers(dest="group", required=True)
        rollout = top.add_parser("rollout", help="canary rollout of the InferenceService", parents=[common])
        steps = rollout.add_subparsers(dest="step", required=True)
    else:
        steps = parser.add_subparsers(dest="step", required=True)
    deploy = steps.add_parser("deploy", help="new model version to a share of the traffic", parents=[common])
    deploy.add_argument("--model-version", required=True)
    deploy.add_argument("--canary", type=int, default=10, help="percent of traffic for the new version (100: all)")
    deploy.add_argument("--registry", help="image registry (default: the release's)")
    deploy.add_argument(
        "--digest",
        action="append",
        default=[],
        metavar="COMPONENT=sha256:HEX",
        help="the image digest of each component (predictor, transformer), as CI's images job printed it",
    )
    steps.add_parser("status", help="the route's weights, each slot's conditions and URL", parents=[common])
    evidence = argparse.ArgumentParser(add_help=False)
    evidence.add_argument(
        "--prometheus-url", default="http://127.0.0.1:9090", help="Prometheus scraping the transformers"
    )
    evidence.add_argument("--feedback-url", default="http://127.0.0.1:8083", help="the feedback service (agreement)")
    evidence.add_argument(
        "--feedback-token-file",
        default=os.environ.get("FEEDBACK_TOKEN_FILE", ""),
        help="a token with the feedback service's reader role (env FEEDBACK_TOKEN_FILE); /v1/quality asks for one",
    )
    evidence.add_argument("--window", default="10m", help="PromQL duration the figures cover")
    evidence.add_argument("--stable", help="stable version (default: the release's)")
    evidence.add_argument("--canary-version", help="canary version (default: the release's)")
    margins = analysis.Margins()
    evidence.add_argument("--min-cases", type=int, default=margins.min_cases, help="cases needed on each side")
    evidence.add_argument(
        "--max-p99-ratio", type=float, default=margins.max_p99_ratio, help="canary p99 / stable p99 allowed"
    )
    steps.add_parser(
        "analyze", help="canary against stable: promote, hold or rollback, with reasons", parents=[common, evidence]
    )
    promote = steps.add_parser("promote", help="the canary in flight takes 100%%", parents=[common, evidence])
    promote.add_argument("--if-healthy", action="store_true", help="only when analyze says promote")
    steps.add_parser("rollback", help="all traffic back to the stable version", parents=[common])
    return parser


def parse(argv: list[str] | None = None, legacy: bool = False) -> argparse.Namespace:
    """Parse, then fill in the defaults of the flags nobody gave."""
    given = sys.argv[1:] if argv is None else argv
    # As kubectl's: a bare --dry-run means client, and never takes the next word as its value.
    args = build_parser(legacy).parse_args(["--dry-run=client" if a == "--dry-run" else a for a in given])
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def _steps(args: argparse.Namespace, current: release.Release) -> list[release.Release]:
    """The releases to apply in order: a deploy stages the idle slot first, then shifts traffic."""
    if args.step == "deploy":
        # The version first: a bad one is named as such, whatever the digests.
        release.check_version(args.model_version)
        digests = release.parse_digest_flags(args.digest)
        return current.deployment(args.model_version, args.canary, digests, args.registry)
    if args.step == "promote":
        return [current.promote()]
    return [current.rollback()]


def _status(objects: object, namespace: str) -> dict[str, object]:
    route = weights(get_route(objects, namespace))
    slots = {slot: summary(get(objects, namespace, release.inference_service(slot))) for slot in release.SLOTS}
    return {"weights": route, "slots": slots}


def _change(args: argparse.Namespace, connection: Connection, overlay: Path, steps: list[release.Release]) -> None:
    if args.dry_run == "client":
        for i, step in enumerate(steps, start=1):
            print(f"# step {i} of {len(steps)}\n{release.render(step)}", end="")
        return
    if args.dry_run == "server":
        scratch, copy = scratch_copy(overlay)
        with scratch:
            for step in steps:
                release.write(copy, step)
                print(apply(copy, connection, server_dry_run=True), end="")
        return
    for step in steps:
        written = release.write(overlay, step)
        print(f"wrote {', '.join(map(str, written))}; commit them: they are the record of what runs")
        print(apply(overlay, connection), end="")
        # The slot that must be ready before the next step: the staged one, else the stable one.
        slot = step.other_slot if step.staged else step.stable_slot
        wait_ready(api(connection), args.namespace, release.inference_service(slot), args.timeout)
    print(json.dumps(_status(api(connection), args.namespace), indent=2))


#: Exit status of ``analyze`` per decision, for pipelines: 0 promote, 3 hold, 4 rollback.
EXIT = {analysis.PROMOTE: 0, analysis.HOLD: 3, analysis.ROLLBACK: 4}


def _analyze(args: argparse.Namespace, current: release.Release) -> analysis.Verdict:
    stable = args.stable or current.stable
    canary = args.canary_version or current.canary
    if not canary:
        raise release.ReleaseError(f"no canary in flight to analyze; {stable} serves all traffic")
    sides = analysis.from_prometheus(args.prometheus_url, [stable, canary], args.window)
    analysis.add_feedback(args.feedback_url, sides, args.feedback_token_file)
    margins = analysis.Margins(min_cases=args.min_cases, max_p99_ratio=args.max_p99_ratio)
    return analysis.judge(sides[stable], sides[canary], margins)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-rollout``."""
    return run(parse(argv))


def legacy_main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-classifier rollout <step>``: the same command under its old name,
    kept for one release so scripts and runbooks move at their pace; says so on stderr."""
    print(
        f"warning: {LEGACY_PROG} rollout <step> is now {PROG} <step>; the old name goes in the next release",
        file=sys.stderr,
    )
    return run(parse(argv, legacy=True))


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed step; the exit status says how it went (see :data:`EXIT`)."""
    connection = Connection(args.context, args.kubeconfig)
    overlay = Path(args.overlay)
    try:
        if args.step == "status":
            if args.dry_run == "client":
                print("status reads the cluster; nothing to print in --dry-run=client")
                return 0
            print(json.dumps(_status(api(connection), args.namespace), indent=2))
            return 0
        current = release.read(overlay)
        if args.step == "analyze" or (args.step == "promote" and args.if_healthy):
            verdict = _analyze(args, current)
            print(json.dumps(verdict.as_dict(), indent=2))
            if args.step == "analyze":
                return EXIT[verdict.decision]
            if verdict.decision != analysis.PROMOTE:
                print(f"error: not promoting: the analysis says {verdict.decision}", file=sys.stderr)
                return EXIT[verdict.decision]
        _change(args, connection, overlay, _steps(args, current))
    except (release.ReleaseError, RolloutError, analysis.EvidenceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
