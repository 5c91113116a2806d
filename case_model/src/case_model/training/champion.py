"""The new model against the one in production, on the same validation set.

A macro-F1 stored in the production wheel was measured on whatever validation set that training
used; comparing a new model's F1 with it compares two sets, not two models. So the champion wheel
is opened here (its signature and artifact digests verified before it is read, like any load), scored on
the very cases the challenger was scored on, and the gate compares the two evaluations: the
challenger may not fall below the champion's macro-F1 by more than a tolerance, nor lose more than
a margin of recall on any class (an average can hide a class that stopped being found). The
validation file is named by its SHA-256 in the report, so two reports can be seen to share it.

Both models are scored on the texts as this version's text steps prepare them: the question the
gate answers is which classifier to serve behind the text steps being released.

Two more checks close what a champion comparison leaves open to someone feeding the retraining a
little poison at a time. The *anchor* is the first approved model of the current line: the
challenger must also stay within the same tolerance and recall margin of it, so losses each small
enough to pass against last week's champion cannot add up week after week. The *canary sentences*
(:mod:`case_model.training.canary`) are ordinary cases with known labels that the challenger must all
answer right, so a flipped answer on one narrow kind of case is caught even where the averages
hardly move. The report holds all three verdicts, and the training's account of the agents'
corrections (:mod:`case_model.training.agent_influence`): who held what share, who was capped or flagged.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # training needs the train extra (pandas); the gate's defaults must not
    from case_model.training.canary import CanaryCheck
    from case_model.training.fit import Evaluation

_ARTIFACT_IN_WHEEL = "case_model/_artifact/"
#: Default gate: the challenger's macro-F1 may be at most this much below the champion's.
F1_TOLERANCE = 0.01
#: Default gate: no class may lose more recall than this.
MAX_RECALL_DROP = 0.05


def evaluate_wheel(wheel: Path, texts: list[str], labels: list[str]) -> tuple[str, Evaluation]:
    """The version of a model wheel and its evaluation on ``texts``; nothing is installed.

    Raises:
        case_model.artifact.ArtifactError: the wheel is not signed by the release key, or its
            model files do not match their recorded SHA-256 (nothing is read then).
        ValueError: the file is not a case-model wheel.
    """
    from case_model.artifact import ArtifactError, load
    from case_model.training.fit import evaluate
    from case_signing import ProvenanceError, verify_wheel

    try:  # the champion is a wheel from the index like any other: its origin first
        verify_wheel(wheel)
    except ProvenanceError as error:
        raise ArtifactError(f"champion {wheel.name} refused: {error}") from error

    with tempfile.TemporaryDirectory(prefix="case-model-champion-") as tmp:
        try:
            with zipfile.ZipFile(wheel) as archive:
                members = [m for m in archive.namelist() if m.startswith(_ARTIFACT_IN_WHEEL) and not m.endswith("/")]
                if not members:
                    raise ValueError(f"{wheel}: no model artifact inside; not a case-model wheel")
                for member in members:
                    target = Path(tmp) / Path(member).name  # flat: no path from the archive is trusted
                    target.write_bytes(archive.read(member))
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{wheel}: not a readable wheel ({error})") from error
        champion = load(Path(tmp))
    return champion.version, evaluate(champion, texts, labels)


#: The files :meth:`Comparison.write_report` writes: what a candidate's reviewer reads beside its wheel.
REPORT_FILES = ("report.json", "report.md", "confusion_challenger.png", "confusion_champion.png")


@dataclass
class Comparison:
    """Challenger and champion (and the anchor, the canary sentences) on one validation set, and
    the gate's verdict."""

    challenger_version: str
    challenger: Evaluation
    champion_version: str
    champion: Evaluation
    validation_sha256: str
    f1_tolerance: float = F1_TOLERANCE
    max_recall_drop: float = MAX_RECALL_DROP
    #: The first approved model of the current line, scored on the same cases; None: no anchor given.
    anchor_version: str | None = None
    anchor: Evaluation | None = None
    #: The challenger's answers to the canary sentences; None: not checked.
    canaries: CanaryCheck | None = None
    #: The training's account of the corrections (``corrections`` counts, ``agents`` report).
    corrections: dict[str, Any] | None = None

    def recall_drops(self, reference: Evaluation | None = None) -> dict[str, float]:
        """Recall lost per class against ``reference`` (the champion by default; positive: the
        challenger finds fewer of that class)."""
        drops = {}
        for label, figures in (reference or self.champion).per_class.items():
            if figures["support"] == 0:
                continue
            new = self.challenger.per_class.get(label, {"recall": 0.0})["recall"]
            drops[label] = round(figures["recall"] - new, 4)
        return drops

    def refusals_by_gate(self) -> dict[str, list[str]]:
        """Why the challenger may not replace the champion, per check (``champion``, ``anchor``,
        ``canary``); a check that was not run is absent."""
        gates = {"champion": self._refusals("champion", self.champion_version, self.champion)}
        if self.anchor is not None:
            gates["anchor"] = self._refusals("anchor", self.anchor_version or "?", self.anchor)
        if self.canaries is not None:
            gates["canary"] = self.canaries.refusals()
        return gates

    def refusals(self) -> list[str]:
        """Why the challenger may not replace the champion; empty when it may."""
        return [reason for reasons in self.refusals_by_gate().values() for reason in reasons]

    def _refusals(self, role: str, version: str, reference: Evaluation) -> list[str]:
        reasons = []
        floor = reference.macro_f1 - self.f1_tolerance
        if self.challenger.macro_f1 < floor:
            reasons.append(
                f"macro-F1 {self.challenger.macro_f1:.4f} is below the {role} {version}'s "
                f"{reference.macro_f1:.4f} by more than the tolerance {self.f1_tolerance:.4f}"
            )
        against = "" if role == "champion" else f" against the {role} {version}"
        for label, drop in sorted(self.recall_drops(reference).items()):
            if drop > self.max_recall_drop:
                recall = reference.per_class[label]["recall"]
                reasons.append(
                    f"recall of {label} drops by {drop:.4f}{against} ({role} {recall:.4f}), "
                    f"more than the margin {self.max_recall_drop:.4f}"
                )
        return reasons

    def as_dict(self) -> dict[str, Any]:
        """The report's JSON form."""
        gates = self.refusals_by_gate()
        report: dict[str, Any] = {
            "validation_sha256": self.validation_sha256,
            "n_validation": self.challenger.n_validation,
            "gate": {"f1_tolerance": self.f1_tolerance, "max_recall_drop": self.max_recall_drop},
            "passed": not self.refusals(),
            "refusals": self.refusals(),
            "challenger": {"version": self.challenger_version, **self.challenger.as_dict()},
            "champion": {"version": self.champion_version, **self.champion.as_dict()},
            "recall_drops": self.recall_drops(),
        }
        if self.anchor is not None:
            report["anchor"] = {
                "version": self.anchor_version,
                **self.anchor.as_dict(),
                "recall_drops": self.recall_drops(self.anchor),
                "passed": not gates["anchor"],
                "refusals": gates["anchor"],
            }
        if self.canaries is not None:
            report["canary"] = self.canaries.as_dict()
        if self.corrections is not None:
            report.update(self.corrections)
        return report

    def markdown(self) -> str:
        """Per-class table and the verdict, for a reviewer."""
        new, old, anchor = self.challenger, self.champion, self.anchor
        header = "| | challenger | champion |" + (" anchor |" if anchor else "")
        rule = "|---|---:|---:|" + ("---:|" if anchor else "")

        def row(name: str, ours: object, theirs: object, first: object = None) -> str:
            return f"| {name} | {ours} | {theirs} |" + (f" {first} |" if anchor else "")

        lines = [
            f"# {self.challenger_version} against {self.champion_version}"
            + (f" (anchor {self.anchor_version})" if anchor else ""),
            "",
            f"Validation set SHA-256 `{self.validation_sha256}`, {new.n_validation} classifiable cases.",
            "",
            header,
            rule,
            row("version", self.challenger_version, self.champion_version, self.anchor_version),
            row("macro-F1", f"{new.macro_f1:.4f}", f"{old.macro_f1:.4f}", anchor and f"{anchor.macro_f1:.4f}"),
            row("accuracy", f"{new.accuracy:.4f}", f"{old.accuracy:.4f}", anchor and f"{anchor.accuracy:.4f}"),
            "",
            "| class | support | recall new | recall old | F1 new | F1 old |" + (" recall anchor |" if anchor else ""),
            "|---|---:|---:|---:|---:|---:|" + ("---:|" if anchor else ""),
        ]
        for label in sorted(set(new.per_class) | set(old.per_class)):
            a = new.per_class.get(label, {"recall": 0.0, "f1": 0.0, "support": 0})
            b = old.per_class.get(label, {"recall": 0.0, "f1": 0.0, "support": 0})
            first = (anchor.per_class.get(label, {"recall": 0.0}) if anchor else {"recall": 0.0})["recall"]
            lines.append(
                f"| {label} | {a['support']} | {a['recall']:.4f} | {b['recall']:.4f} | {a['f1']:.4f} | {b['f1']:.4f} |"
                + (f" {first:.4f} |" if anchor else "")
            )
        if self.canaries is not None:
            wrong = self.canaries.misses
            lines += ["", f"Canary sentences: {self.canaries.n - len(wrong)} of {self.canaries.n} answered right."]
            lines += [f'- "{m.text}": {m.label}, answered {m.predicted}' for m in wrong]
        if self.corrections is not None and "agents" in self.corrections:
            lines += ["", *_agents_markdown(self.corrections["agents"])]
        refusals = self.refusals()
        verdict = "refused:\n" + "\n".join(f"- {r}" for r in refusals) if refusals else "passed"
        lines += ["", f"Gate (F1 tolerance {self.f1_tolerance}, recall margin {self.max_recall_drop}): {verdict}"]
        lines += ["", "![challenger](confusion_challenger.png) ![champion](confusion_champion.png)", ""]
        return "\n".join(lines)

    def write_report(self, directory: Path) -> Path:
        """``report.md``, ``report.json`` and both confusion matrices as PNG; returns the Markdown."""
        from case_model.training.fit import plot_confusion

        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
        plot_confusion(self.challenger, directory / "confusion_challenger.png")
        plot_confusion(self.champion, directory / "confusion_champion.png")
        report = directory / "report.md"
        report.write_text(self.markdown(), encoding="utf-8")
        return report


def _agents_markdown(agents: dict[str, Any]) -> list[str]:
    """The agents' section of the report: each agent's share, cap and disagreement."""
    left = agents["corrections_left_out"]
    limits = agents["limits"]
    lines = [
        "## Agents' corrections",
        "",
        f"{agents['influential']} corrections would change the training data, {agents['applied']} were applied; "
        f"left out: {left['cap']} beyond an agent's cap, {left['flagged']} of flagged agents "
        f"({', '.join(agents['flagged_agent_ids']) or 'none flagged'}). Cap: no agent above a share of "
        f"{limits['max_share']} (or one over the number of agents), its first {limits['cap_floor']} always kept; "
        f"flag: disagreeing with the other agents on more than {limits['max_disagreement']} of at least "
        f"{limits['min_comparable']} comparable cases.",
        "",
        "| agent | corrections | share | cap | left out (cap) | comparable | disagreement | flagged | applied |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for agent, f in sorted(agents["by_agent"].items(), key=lambda item: (-item[1]["share"], item[0])):
        rate = "" if f["disagreement_rate"] is None else f"{f['disagreement_rate']:.2f}"
        cap = "" if f["cap"] is None else str(f["cap"])
        lines.append(
            f"| {agent} | {f['corrections']} | {f['share']:.1%} | {cap} | {f['left_out_cap']} | {f['comparable']} "
            f"| {rate} | {'**yes**' if f['flagged'] else ''} | {f['applied']} |"
        )
    return lines
