"""``case-model``: make demo data, train and build the model wheel, verify a wheel; stage a
retraining candidate and sign an approved one."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("case_model")


def _demo_data(args: argparse.Namespace) -> int:
    import pandas as pd

    from case_model.training.demo_data import generate_cases, noisy_labels

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = generate_cases(args.n, seed=args.seed, prefix="C")
    labels, feedback = noisy_labels(cases, seed=args.seed)
    frame = pd.DataFrame({"case_id": [c.case_id for c in cases], "text": [c.text for c in cases], "label": labels})
    frame.to_parquet(out / "cases.parquet", index=False)
    validation = generate_cases(args.validation_n, seed=args.seed + 1000, prefix="V")
    pd.DataFrame(
        {
            "case_id": [c.case_id for c in validation],
            "text": [c.text for c in validation],
            "label": [c.label for c in validation],
        }
    ).to_parquet(out / "validation.parquet", index=False)
    pd.DataFrame(feedback, columns=["case_id", "corrected_label", "timestamp"]).to_csv(
        out / "feedback.csv", index=False
    )
    print(
        f"wrote {len(cases)} cases, {len(validation)} validation cases and {len(feedback)} corrections "
        f"to {out} (synthetic)"
    )
    return 0


def _progress(message: str) -> None:
    """One line per long step, as it starts: training a real data set takes minutes."""
    print(f"... {message}", flush=True)


def _read_url(path: str | None, what: str = "feedback store") -> str | None:
    """A store URL from a mounted Secret file; errors name the file, never its content."""
    if path is None:
        return None
    try:
        url = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ValueError(f"cannot read the {what} URL from {path}: {error.strerror}") from None
    if not url:
        raise ValueError(f"the {what} URL file {path} is empty")
    return url


def _signing_key(args: argparse.Namespace) -> str | None:
    """``--signing-key``, else ``$MODEL_SIGNING_KEY``: read when the command runs, so a candidate
    build can tell a key handed to it by either way and refuse it."""
    key: str | None = args.signing_key or os.environ.get("MODEL_SIGNING_KEY") or None
    return key


def _train(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from case_model.artifact import ArtifactError, sha256_file
    from case_model.classifier import CaseClassifier
    from case_model.training.agent_influence import AgentLimits
    from case_model.training.canary import check_canaries
    from case_model.training.champion import Comparison, evaluate_wheel
    from case_model.training.corrections import is_store_url, read_corrections, record_flagged
    from case_model.training.fit import DataError, QualityGateError, check_quality, classifiable, read_table, train
    from case_model.training.versioning import (
        index_versions,
        known_versions,
        next_version,
        resolve_baseline,
        wheel_metadata,
    )
    from case_model.training.wheelbuild import build_wheel, write_artifact

    out = Path(args.out)
    given = _signing_key(args)
    if args.candidate:
        # The retraining cluster never holds the release key: a key reaching a candidate build is a
        # misconfiguration to stop, not a choice to honour.
        if given:
            named_by = "--signing-key" if args.signing_key else "$MODEL_SIGNING_KEY"
            print(
                f"error: a candidate is built unsigned, and {named_by} names a signing key: a retraining job "
                "holds no release key (the release pipeline signs an approved candidate: case-model "
                "sign-candidate); remove it",
                file=sys.stderr,
            )
            return 2
        if not args.champion:
            print(
                "error: a candidate needs --champion: its comparison report against the production model "
                "is what a reviewer approves",
                file=sys.stderr,
            )
            return 2
    signing_key = Path(given) if given else None
    if not args.candidate and (signing_key is None or not signing_key.is_file()):
        print(
            f"error: no signing key {'at ' + str(signing_key) if signing_key else ''}: pass --signing-key or set "
            "MODEL_SIGNING_KEY to the release key (a PEM file); every model wheel is signed",
            file=sys.stderr,
        )
        return 2
    if args.anchor and not args.champion:
        print("error: --anchor needs --champion: the anchor is a second reference of the same gate", file=sys.stderr)
        return 2
    try:
        limits = AgentLimits(
            args.max_agent_share, args.agent_cap_floor, args.max_agent_disagreement, args.agent_min_comparable
        )
        _progress(f"reading {args.data} and the validation set {args.validation}")
        cases = read_table(Path(args.data))
        validation = read_table(Path(args.validation))
        source = args.feedback or _read_url(args.feedback_url_file)
        if source:
            _progress("reading the corrections")
        feedback = read_corrections(source) if source else None
        existing = known_versions(out)
        index_url = args.index_url or _read_url(args.index_url_file, "model index")
        if index_url:
            _progress("reading the versions the model index holds")
            existing += index_versions(index_url)
        champion = resolve_baseline(args.champion, out) if args.champion else None
        if champion is not None:
            existing.append(str(wheel_metadata(champion)["model_version"]))
        anchor = resolve_baseline(args.anchor, out) if args.anchor else None
        if anchor is not None:
            existing.append(str(wheel_metadata(anchor)["model_version"]))
        version = next_version(existing, args.version)
        candidates = _read_url(args.candidates_url_file, "candidates store")
        if candidates:
            version = _unstaged(version, existing, candidates, explicit=args.version is not None)
        _progress(f"training {version} on {len(cases)} cases")
        result = train(cases, validation, feedback, seed=args.seed, agent_limits=limits)
        counts = result.corrections
        print(
            f"corrections: {counts.read} read for {counts.cases} cases; {counts.relabelled} relabelled, "
            f"{counts.confirmed} confirmed, {counts.added} added with their stored text, "
            f"{counts.unmatched} without a text to learn from"
        )
        print(result.agents.summary())
        if source and is_store_url(source) and result.agents.flagged_agents:
            new = record_flagged(source, result.agents.flagged_agents)
            print(f"flagged in the feedback store: {new} new; their corrections leave its quality figures")
        # One JSON line for the job's log: the training job has no metrics endpoint, its log is read.
        agents = result.agents.counts() | {"flagged_agent_ids": result.agents.flagged_agents}
        print(json.dumps({"event": "training_corrections", "corrections": counts.as_dict(), "agents": agents}))
        print(
            f"trained on {result.n_train} cases ({result.n_filtered} filtered out); "
            f"validation macro-F1 {result.evaluation.macro_f1:.4f}, accuracy {result.evaluation.accuracy:.4f}"
        )
        check_quality(result.evaluation.macro_f1, args.min_macro_f1)
        canaries = check_canaries(CaseClassifier.from_pipeline(result.pipeline, {}), Path(args.canary_sentences))
        print(f"canary sentences: {canaries.n - len(canaries.misses)} of {canaries.n} answered right")
        if champion is not None:
            _progress(f"scoring the champion {champion.name} on the same validation set")
            scored = classifiable(validation)
            champion_version, champion_evaluation = evaluate_wheel(champion, *scored)
            anchor_version, anchor_evaluation = None, None
            if anchor is not None:
                _progress(f"scoring the anchor {anchor.name} on the same validation set")
                anchor_version, anchor_evaluation = evaluate_wheel(anchor, *scored)
            comparison = Comparison(
                version,
                result.evaluation,
                champion_version,
                champion_evaluation,
                sha256_file(Path(args.validation)),
                args.f1_tolerance,
                args.max_recall_drop,
                anchor_version,
                anchor_evaluation,
                canaries,
                {"corrections": counts.as_dict(), "agents": result.agents.as_dict()},
            )
            report_dir = Path(args.report) if args.report else out if args.candidate else out / f"report-{version}"
            report = comparison.write_report(report_dir)
            print(
                f"champion {champion_version}: macro-F1 {champion_evaluation.macro_f1:.4f} on the same "
                f"{champion_evaluation.n_validation} cases; comparison report {report}"
            )
            if anchor_evaluation is not None:
                print(f"anchor {anchor_version}: macro-F1 {anchor_evaluation.macro_f1:.4f} on the same cases")
            gates = {gate: reasons for gate, reasons in comparison.refusals_by_gate().items() if reasons}
            if gates:
                named = {"champion": "quality gate against the champion", "anchor": "quality gate against the anchor"}
                refused = [f"{named.get(gate, 'canary sentences')}: " + "; ".join(r) for gate, r in gates.items()]
                raise QualityGateError("; ".join(refused) + "; no wheel built")
        elif canaries.misses:
            raise QualityGateError("canary sentences: " + "; ".join(canaries.refusals()) + "; no wheel built")
    except (DataError, QualityGateError, ArtifactError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _progress(f"building the {'unsigned candidate ' if args.candidate else ''}wheel {version}")
    with tempfile.TemporaryDirectory(prefix="case-model-artifact-") as tmp:
        extra = {
            "synthetic_data": args.synthetic,
            "agents": result.agents.counts(),
            "canary_sentences": {"sha256": canaries.sha256, "n": canaries.n},
        }
        write_artifact(result, version, Path(tmp), extra, signing_key)
        wheel = build_wheel(Path(tmp), version, out, signing_key)
    print(f"built {wheel}")
    if args.candidate:
        sums = _candidate_sums(out, report_dir, wheel)
        print(f"candidate {version}: unsigned wheel, comparison report and {sums} in {out}")
    if args.built_file:
        Path(args.built_file).write_text(f"{wheel}\n", encoding="utf-8")
    return 0


def _candidate_sums(out: Path, report_dir: Path, wheel: Path) -> Path:
    """Gather the report beside the wheel in ``out`` and record them all in ``SHA256SUMS``: the
    directory the stage step uploads as it is, and the digests a reviewer's approval names."""
    import shutil

    from case_model.training.candidate import write_sums
    from case_model.training.champion import REPORT_FILES

    files = [wheel]
    for name in REPORT_FILES:
        if report_dir.resolve() != out.resolve():
            shutil.copy2(report_dir / name, out / name)
        files.append(out / name)
    return write_sums(out, files)


def _unstaged(version: str, existing: list[str], store_url: str, explicit: bool) -> str:
    """``version``, or the first version above it that no earlier candidate holds: two runs, the
    second before the first was released, never build one version.

    Raises:
        ValueError: an explicit version that a candidate already holds.
    """
    from case_model.training.candidate import is_staged
    from case_model.training.versioning import next_version

    while is_staged(store_url, version):
        if explicit:
            raise ValueError(f"version {version} is already a staged candidate; choose another")
        _progress(f"a candidate {version} is already staged; numbering this one above it")
        existing = [*existing, version]
        version = next_version(existing)
    return version


def _stage_candidate(args: argparse.Namespace) -> int:
    from case_model.training.candidate import CandidateError, stage

    try:
        url = _read_url(args.store_url_file, "candidates store")
        if url is None:
            raise ValueError("--store-url-file names no file")
        written = stage(Path(args.directory), url)
    except (CandidateError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for staged in written:
        print(f"staged {staged}")
    return 0


def _sign_candidate(args: argparse.Namespace) -> int:
    from case_model.training.wheelbuild import CandidateWheelError, sign_wheel

    given = _signing_key(args)
    if not given or not Path(given).is_file():
        print(
            f"error: no signing key {'at ' + given if given else ''}: pass --signing-key (the release key, PEM)",
            file=sys.stderr,
        )
        return 2
    try:
        wheel = sign_wheel(Path(args.wheel), Path(given), Path(args.out))
    except CandidateWheelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"signed {wheel}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from case_model.training.wheelcheck import check_wheel

    failed = False
    for name in args.wheels:
        problems = check_wheel(Path(name))
        failed |= bool(problems)
        print(f"{name}: {'FAILED' if problems else 'ok'}")
        for problem in problems:
            print(f"  - {problem}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The ``case-model`` command line."""
    from case_model.training.agent_influence import (
        AGENT_CAP_FLOOR,
        AGENT_MIN_COMPARABLE,
        MAX_AGENT_DISAGREEMENT,
        MAX_AGENT_SHARE,
    )
    from case_model.training.canary import DEFAULT_CANARY_FILE
    from case_model.training.champion import F1_TOLERANCE, MAX_RECALL_DROP

    parser = argparse.ArgumentParser(prog="case-model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-data", help="write synthetic cases, validation set and feedback")
    demo.add_argument("--out", default="data", help="output directory")
    demo.add_argument("--n", type=int, default=20_000, help="number of training cases")
    demo.add_argument("--validation-n", type=int, default=4_000, help="number of validation cases")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo_data)

    train = commands.add_parser("train", help="train, evaluate, gate and build the model wheel")
    train.add_argument("--data", required=True, help="training cases (.csv or .parquet: case_id, text, label)")
    train.add_argument("--validation", required=True, help="held-out cases, same columns")
    sources = train.add_mutually_exclusive_group()
    sources.add_argument(
        "--feedback",
        help="agent corrections: a .csv/.parquet file (case_id, corrected_label, timestamp[, text]) "
        "or the feedback store's URL (sqlite:///..., postgresql+psycopg://...)",
    )
    sources.add_argument(
        "--feedback-url-file",
        help="a file holding the feedback store's URL (a mounted Secret: the password stays out of "
        "the command line and the environment)",
    )
    train.add_argument("--out", default="dist", help="where wheels are written (and earlier versions looked up)")
    train.add_argument(
        "--champion",
        "--baseline",
        help="the production wheel (file, directory holding it, or version in --out): scored on the same "
        "validation set, "
        "the new model must not be worse (see --f1-tolerance, --max-recall-drop)",
    )
    train.add_argument(
        "--anchor",
        help="the first approved model of the current line (wheel file, directory holding exactly one, or "
        "version in --out); needs --champion. The new model must pass the same --f1-tolerance and "
        "--max-recall-drop against it too, so small losses each week cannot add up",
    )
    train.add_argument(
        "--f1-tolerance", type=float, default=F1_TOLERANCE, help="macro-F1 below the champion's (and anchor's) allowed"
    )
    train.add_argument("--max-recall-drop", type=float, default=MAX_RECALL_DROP, help="recall any one class may lose")
    train.add_argument(
        "--canary-sentences",
        default=str(DEFAULT_CANARY_FILE),
        help="CSV of ordinary cases with known labels (text,label); a model that answers any of them "
        "otherwise is refused, the sentence named (default: the list shipped in the package)",
    )
    train.add_argument(
        "--max-agent-share",
        type=float,
        default=MAX_AGENT_SHARE,
        help="the largest share of the applied corrections one agent may hold (or one over the number of "
        "agents, if larger): an agent keeps at most max(--agent-cap-floor, share/(1-share) x the other "
        "agents' corrections) of the corrections that change the training data, its earliest by time; "
        "1 turns the cap off",
    )
    train.add_argument(
        "--agent-cap-floor",
        type=int,
        default=AGENT_CAP_FLOOR,
        help="an agent's first this many corrections are never capped, so small honest data stays whole",
    )
    train.add_argument(
        "--max-agent-disagreement",
        type=float,
        default=MAX_AGENT_DISAGREEMENT,
        help="flag an agent, leaving out all its corrections, when it disagrees with the other agents' "
        "consensus on more than this share of the cases they labelled too (same case, or same cleaned "
        "text); 1 turns the flag off",
    )
    train.add_argument(
        "--agent-min-comparable",
        type=int,
        default=AGENT_MIN_COMPARABLE,
        help="the fewest cases shared with other agents an agent is judged on before it can be flagged",
    )
    train.add_argument("--report", help="directory of the comparison report (default: <out>/report-<version>)")
    train.add_argument("--built-file", help="write the built wheel's path to this file (make publish reads it)")
    train.add_argument("--min-macro-f1", type=float, default=0.80, help="absolute quality gate on validation macro-F1")
    train.add_argument("--version", help="explicit version; must be above every known version")
    train.add_argument(
        "--index-url",
        help="the production model index's simple API (e.g. https://index.example/simple/): the new version "
        "is above every version it holds, never just above the champion's",
    )
    train.add_argument(
        "--index-url-file",
        help="a file holding the index URL (a mounted Secret: it may carry read credentials); as --index-url",
    )
    train.add_argument(
        "--candidates-url-file",
        help="a file holding the candidates store's URL: the new version is also above every candidate "
        "staged there and not yet released, so two runs never build one version",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--signing-key",
        help="the release's private key (PEM) the wheel is signed with (default: $MODEL_SIGNING_KEY)",
    )
    train.add_argument(
        "--candidate",
        action="store_true",
        help="build an unsigned candidate for review (refuses any signing key): the wheel, its comparison "
        "report (--report may be --out) and SHA256SUMS, all in --out; needs --champion",
    )
    train.add_argument("--synthetic", action="store_true", help="mark the model card as trained on synthetic data")
    train.set_defaults(run=_train)

    staging = commands.add_parser(
        "stage-candidate", help="upload a candidate (checked against its SHA256SUMS) to the candidates store"
    )
    staging.add_argument("directory", help="the candidate: wheel, report and SHA256SUMS, as train --candidate writes")
    staging.add_argument(
        "--store-url-file",
        required=True,
        help="a file holding the candidates store's URL with its upload credentials (a mounted Secret); "
        "files go to <url>/candidates/<version>/, never overwriting one",
    )
    staging.set_defaults(run=_stage_candidate)

    signing = commands.add_parser("sign-candidate", help="sign an approved unsigned candidate wheel (release pipeline)")
    signing.add_argument("wheel", help="the candidate wheel, unsigned")
    signing.add_argument("--signing-key", help="the release's private key (PEM) (default: $MODEL_SIGNING_KEY)")
    signing.add_argument("--out", required=True, help="where the signed wheel is written")
    signing.set_defaults(run=_sign_candidate)

    check = commands.add_parser("check-wheel", help="verify RECORD hashes, model SHA-256 and version of wheels")
    check.add_argument("wheels", nargs="+")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``case-model`` command."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
