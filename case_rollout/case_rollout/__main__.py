"""``case-classifier rollout {deploy,status,promote,rollback}``.

    case-classifier rollout deploy --model-version 1.3.0 --canary 10 [--dry-run]
    case-classifier rollout status
    case-classifier rollout promote
    case-classifier rollout rollback

``--dry-run`` prints the exact JSON patch and contacts no cluster. Otherwise the kubeconfig (or
the in-cluster config) is read the standard way, the patch applied, and readiness awaited.
"""

from __future__ import annotations

import argparse
import json
import sys

from case_rollout import patches
from case_rollout.cluster import RolloutError, api, get, patch, summary, wait_ready


def build_parser() -> argparse.ArgumentParser:
    """The ``case-classifier`` command line."""
    parser = argparse.ArgumentParser(
        prog="case-classifier", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top = parser.add_subparsers(dest="group", required=True)
    rollout = top.add_parser("rollout", help="canary rollout of the InferenceService")
    rollout.add_argument("--namespace", default="case-classifier")
    rollout.add_argument("--name", default="case-classifier")
    rollout.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for readiness")
    rollout.add_argument("--dry-run", action="store_true", help="print the patch, contact no cluster")
    steps = rollout.add_subparsers(dest="step", required=True)
    deploy = steps.add_parser("deploy", help="new model version to a share of the traffic")
    deploy.add_argument("--model-version", required=True)
    deploy.add_argument("--canary", type=int, default=10, help="percent of traffic for the new version (100: all)")
    deploy.add_argument("--registry", default="registry.example.com")
    steps.add_parser("status", help="traffic split, conditions and URL")
    steps.add_parser("promote", help="the canary takes 100%%")
    steps.add_parser("rollback", help="all traffic back to the last good revision")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``case-classifier``."""
    args = build_parser().parse_args(argv)
    if args.step == "status":
        if args.dry_run:
            print("status reads the cluster; nothing to print in --dry-run")
            return 0
        print(json.dumps(summary(get(api(), args.namespace, args.name)), indent=2))
        return 0
    try:
        objects = None if args.dry_run else api()
        if args.step == "deploy":
            ops = patches.deploy(args.model_version, args.canary, args.registry)
        elif args.step == "promote":
            ops = patches.promote(None if args.dry_run else get(objects, args.namespace, args.name))
        else:
            ops = patches.rollback()
        print(json.dumps(ops, indent=2))
        if args.dry_run or not ops:
            return 0
        patch(objects, args.namespace, args.name, ops)
        isvc = wait_ready(objects, args.namespace, args.name, args.timeout)
        print(json.dumps(summary(isvc), indent=2))
    except (ValueError, RolloutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
