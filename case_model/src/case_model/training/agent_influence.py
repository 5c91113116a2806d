"""How much any one agent may move the next model: each agent's share of the corrections is
reported, capped, and an agent whose labels keep contradicting the other agents' is left out.

A model retrained every week on agents' corrections learns whatever a few agents tell it: one agent
(a compromised CRM account, a careless or hostile person) who relabels hundreds of cases decides the
next model. Two defences, in this order, before :func:`case_model.training.corrections.apply_corrections`:

**The cap** bounds every agent's influence whatever its labels say. Of the corrections that would
change the training data (relabel a training case, or add a case with its text: the *influential*
ones, counted on the latest correction of each case), an agent keeps at most
``max(cap_floor, s / (1 - s) * others)``, where ``others`` is the influential corrections of every
other agent and ``s = max(max_share, 1 / agents)``: after the cap, no agent holds more than a share
``s`` of the applied corrections. The share is measured against the *others'* corrections, not a
total that includes the agent's own: against a total, a flood raises its own allowance (an agent
sending 1,000 of 1,100 corrections would keep 220 of a 20 % cap, 69 % of what is applied). Two
guards keep small, honest data whole: the floor (an agent's first ``cap_floor`` corrections are
always kept, so a week of a few dozen corrections is never cut) and ``1 / agents`` (three agents who
work equally hard hold a third each: none is capped). Beyond the cap, an agent's *earliest*
corrections are kept (by time, then case id): deterministic, and a flood that follows an agent's
normal work loses the flood, not the work. Its other corrections of those cases go with them.

**The flag** leaves out everything from an agent whose labels disagree with the consensus of the
*other* agents on the same cases more often than ``max_disagreement``, judged only once the agent
has ``min_comparable`` comparable cases. A case is comparable when another agent labelled it too:
the same case id (a file may hold several agents' corrections of one case), or a case whose text
is the same once cleaned and normalised (the feedback store keeps only the latest correction per
case, so there agreement can only come from identical texts: templated mails, repeated
complaints). The consensus is the most common label among the other agents' latest labels of that
case (one vote per agent; on a tie the agent agrees with any of the most common). The training
data's own label is *not* a voice: a correction exists because that label was wrong, so every
honest agent would disagree with it. Flagging repeats with the flagged agents' votes removed, the
worst first (highest disagreement rate, then most disagreements; agents tied at the worst are
flagged together), so an honest agent who merely overlapped with a flooder is judged again
without the flood. Evidence is every correction an agent sent, capped or not.

Corrections without an agent (a file without an ``agent_id`` column) are :data:`UNKNOWN_AGENT`'s:
no one person, so they vote and count towards the others' corrections but are never capped nor
flagged. What this cannot see: many agents acting together, and a lone agent whose cases no other
agent labels (the cap still bounds it). Everything left out is counted, per agent and per reason.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from case_model.training.corrections import UNKNOWN_AGENT, agent_ids

if TYPE_CHECKING:
    import pandas as pd

#: Default: after the cap, no agent holds more than this share of the applied corrections.
MAX_AGENT_SHARE = 0.2
#: Default: an agent's first this many influential corrections are never capped.
AGENT_CAP_FLOOR = 50
#: Default: an agent that disagrees with the other agents on more than this share of its
#: comparable cases is flagged.
MAX_AGENT_DISAGREEMENT = 0.5
#: Default: the fewest comparable cases an agent is judged on.
AGENT_MIN_COMPARABLE = 5


@dataclass(frozen=True)
class AgentLimits:
    """The cap and the flag's settings (``case-model train --max-agent-share ...``)."""

    max_share: float = MAX_AGENT_SHARE
    cap_floor: int = AGENT_CAP_FLOOR
    max_disagreement: float = MAX_AGENT_DISAGREEMENT
    min_comparable: int = AGENT_MIN_COMPARABLE

    def __post_init__(self) -> None:
        if not 0 < self.max_share <= 1:
            raise ValueError(f"the maximum agent share must be in (0, 1]; got {self.max_share}")
        if self.cap_floor < 0:
            raise ValueError(f"the agent cap floor must not be negative; got {self.cap_floor}")
        if not 0 <= self.max_disagreement <= 1:
            raise ValueError(f"the maximum agent disagreement must be in [0, 1]; got {self.max_disagreement}")
        if self.min_comparable < 1:
            raise ValueError(f"an agent is judged on at least one comparable case; got {self.min_comparable}")


@dataclass(frozen=True)
class AgentFigures:
    """One agent's corrections and what became of them."""

    #: Corrections read from this agent.
    corrections: int = 0
    #: Its latest corrections of cases that would relabel or add a training case.
    influential: int = 0
    #: Its share of every agent's influential corrections, before anything is left out.
    share: float = 0.0
    #: The most influential corrections it may keep (None: not capped, as for the unknown agent).
    cap: int | None = None
    #: Corrections left out because they were beyond the cap.
    left_out_cap: int = 0
    #: Its cases another agent labelled too, and on how many it disagreed with their consensus.
    comparable: int = 0
    disagreements: int = 0
    flagged: bool = False
    #: Corrections left out because the agent was flagged (those beyond the cap not counted again).
    left_out_flagged: int = 0
    #: Its corrections that relabel or add a training case after all this.
    applied: int = 0

    @property
    def disagreement_rate(self) -> float | None:
        """Share of its comparable cases on which it disagreed; None without a comparable case."""
        return round(self.disagreements / self.comparable, 4) if self.comparable else None

    def as_dict(self) -> dict[str, Any]:
        """For the training report."""
        return {**asdict(self), "disagreement_rate": self.disagreement_rate}


@dataclass(frozen=True)
class AgentReport:
    """Every agent's share of the corrections, the cap and the flag's verdicts."""

    limits: AgentLimits = field(default_factory=AgentLimits)
    agents: dict[str, AgentFigures] = field(default_factory=dict)

    @property
    def flagged_agents(self) -> list[str]:
        """The agents whose corrections were all left out, by name."""
        return sorted(agent for agent, figures in self.agents.items() if figures.flagged)

    @property
    def capped_agents(self) -> list[str]:
        """The agents who lost corrections to the cap, by name."""
        return sorted(agent for agent, figures in self.agents.items() if figures.left_out_cap)

    @property
    def left_out(self) -> dict[str, int]:
        """Corrections left out, by reason (``cap``, ``flagged``)."""
        figures = self.agents.values()
        return {"cap": sum(f.left_out_cap for f in figures), "flagged": sum(f.left_out_flagged for f in figures)}

    @property
    def largest_share(self) -> float:
        """The largest share any one named agent held of the influential corrections read."""
        return max((f.share for a, f in self.agents.items() if a != UNKNOWN_AGENT), default=0.0)

    def counts(self) -> dict[str, Any]:
        """The figures without names: the model's metadata (the wheel travels far; who was
        flagged is for the reviewer's report and the job's log)."""
        return {
            "limits": asdict(self.limits),
            "agents": sum(1 for agent in self.agents if agent != UNKNOWN_AGENT),
            "largest_share": self.largest_share,
            "influential": sum(f.influential for f in self.agents.values()),
            "applied": sum(f.applied for f in self.agents.values()),
            "flagged_agents": len(self.flagged_agents),
            "corrections_left_out": self.left_out,
        }

    def as_dict(self) -> dict[str, Any]:
        """The training report's form: the counts, and the agents by name."""
        return {
            **self.counts(),
            "flagged_agent_ids": self.flagged_agents,
            "capped_agent_ids": self.capped_agents,
            "by_agent": {agent: figures.as_dict() for agent, figures in sorted(self.agents.items())},
        }

    def summary(self) -> str:
        """One line for the training log."""
        left = self.left_out
        flagged = ", ".join(self.flagged_agents) or "none"
        capped = ", ".join(self.capped_agents) or "none"
        return (
            f"agents: {self.counts()['agents']} named, largest share {self.largest_share:.1%}; "
            f"left out {left['cap']} beyond the cap (capped: {capped}) and {left['flagged']} of flagged agents "
            f"(flagged: {flagged})"
        )


def limit_agents(
    cases: pd.DataFrame, feedback: pd.DataFrame, limits: AgentLimits | None = None
) -> tuple[pd.DataFrame, AgentReport]:
    """Cap each agent's influence and leave out flagged agents' corrections (see the module's doc).

    Args:
        cases: The training cases (``case_id``, ``text``, ``label``).
        feedback: Corrections as :func:`case_model.training.corrections.read_corrections` returns them
            (``agent_id`` optional: none is :data:`UNKNOWN_AGENT`).
        limits: The cap and the flag's settings; the defaults when None.

    Returns:
        The corrections to apply (the rows kept, in their order; ``agent_id`` and ``text`` filled
        in where the input had none), and the report.
    """
    import pandas as pd

    limits = limits or AgentLimits()
    rows = feedback.reset_index(drop=True)
    rows = rows.assign(
        agent_id=agent_ids(rows["agent_id"] if "agent_id" in rows.columns else None, len(rows)),
        text=rows["text"] if "text" in rows.columns else None,
        _when=pd.to_datetime(rows["timestamp"], utc=True, format="ISO8601"),
        _row=range(len(rows)),
    )
    training = cases.drop_duplicates("case_id", keep="last").set_index("case_id")
    read = rows.groupby("agent_id").size().to_dict()

    influential = _influential(rows, training)
    asked = influential.groupby("agent_id").size().to_dict()
    total = len(influential)
    caps, beyond = _cap(influential, asked, total, limits)
    # Every correction of the agent for a case beyond its cap, its earlier ones of that case too.
    capped = pd.Series(
        [(agent, case_id) in beyond for agent, case_id in zip(rows["agent_id"], rows["case_id"], strict=True)],
        index=rows.index,
        dtype=bool,
    )

    judged = _judge(rows, training, limits)
    flagged = {agent for agent, (_, _, is_flagged) in judged.items() if is_flagged}
    of_flagged = rows["agent_id"].isin(flagged) & ~capped

    kept = rows[~capped & ~of_flagged]
    applied = _influential(kept, training).groupby("agent_id").size().to_dict()
    agents = {}
    for agent in sorted(read):
        comparable, disagreements, is_flagged = judged.get(agent, (0, 0, False))
        agents[agent] = AgentFigures(
            corrections=int(read[agent]),
            influential=int(asked.get(agent, 0)),
            share=round(asked.get(agent, 0) / total, 4) if total else 0.0,
            cap=caps.get(agent),
            left_out_cap=int((capped & (rows["agent_id"] == agent)).sum()),
            comparable=comparable,
            disagreements=disagreements,
            flagged=is_flagged,
            left_out_flagged=int((of_flagged & (rows["agent_id"] == agent)).sum()),
            applied=int(applied.get(agent, 0)),
        )
    return kept.drop(columns=["_when", "_row"]), AgentReport(limits, agents)


def _influential(rows: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """The latest correction of each case, where it relabels a training case or adds one with its
    text: the corrections that change what the model learns (as ``apply_corrections`` decides)."""
    latest = rows.sort_values(["case_id", "_when", "_row"], kind="stable").drop_duplicates("case_id", keep="last")
    label = latest["case_id"].map(training["label"])
    in_training = label.notna()
    texts = latest["text"].where(latest["text"].notna(), "").astype(str)
    relabels = in_training & (label != latest["corrected_label"])
    adds = ~in_training & (texts.str.strip() != "")
    return latest[relabels | adds]


def _cap(
    influential: pd.DataFrame, asked: dict[str, int], total: int, limits: AgentLimits
) -> tuple[dict[str, int], set[tuple[str, Any]]]:
    """Each named agent's cap, and the (agent, case id) pairs beyond it: the cases past the
    agent's earliest ``cap`` influential corrections."""
    named = [agent for agent in asked if agent != UNKNOWN_AGENT]
    share = max(limits.max_share, 1 / len(named)) if named else 1.0
    caps: dict[str, int] = {}
    beyond: set[tuple[str, Any]] = set()
    if share >= 1:
        return caps, beyond
    for agent in named:
        others = total - asked[agent]
        # An epsilon: 0.2 / 0.8 is 0.25 only up to rounding, and 4 * 0.25 must give 1.
        caps[agent] = cap = max(limits.cap_floor, math.floor(share / (1 - share) * others + 1e-9))
        if asked[agent] > cap:
            mine = influential[influential["agent_id"] == agent].sort_values(["_when", "case_id"], kind="stable")
            beyond.update((agent, case_id) for case_id in mine["case_id"].iloc[cap:])
    return caps, beyond


def _judge(rows: pd.DataFrame, training: pd.DataFrame, limits: AgentLimits) -> dict[str, tuple[int, int, bool]]:
    """Each named agent's comparable cases, disagreements and whether it is flagged."""
    latest = rows.sort_values(["agent_id", "case_id", "_when", "_row"], kind="stable").drop_duplicates(
        ["agent_id", "case_id"], keep="last"
    )
    keys = _subjects(latest, training)
    # One vote per agent per subject: its latest label of any case with that text.
    votes = latest.assign(_subject=latest["case_id"].map(keys)).sort_values(["_when", "_row"], kind="stable")
    by_subject: dict[str, dict[str, str]] = {}
    for subject, agent, label in zip(votes["_subject"], votes["agent_id"], votes["corrected_label"], strict=True):
        by_subject.setdefault(str(subject), {})[str(agent)] = str(label)
    flagged: dict[str, tuple[int, int, bool]] = {}
    while True:
        figures = _disagreements(by_subject, set(flagged))
        over = {
            agent: (disagreements / comparable, disagreements)
            for agent, (comparable, disagreements) in figures.items()
            if comparable >= limits.min_comparable and disagreements / comparable > limits.max_disagreement
        }
        if not over:
            return {**{agent: (*counted, False) for agent, counted in figures.items()}, **flagged}
        worst = max(over.values())
        flagged.update({agent: (*figures[agent], True) for agent, rate in over.items() if rate == worst})


def _disagreements(by_subject: dict[str, dict[str, str]], flagged: set[str]) -> dict[str, tuple[int, int]]:
    """Per named agent not flagged: comparable subjects, and those where its label is not among
    the most common of the other (unflagged) agents' labels."""
    figures: dict[str, list[int]] = {}
    for labels in by_subject.values():
        voters = {agent: label for agent, label in labels.items() if agent not in flagged}
        if len(voters) < 2:
            continue
        for agent, label in voters.items():
            if agent == UNKNOWN_AGENT:
                continue
            others = Counter(other_label for other, other_label in voters.items() if other != agent)
            counted = figures.setdefault(agent, [0, 0])
            counted[0] += 1
            counted[1] += others[label] != max(others.values())
    return {agent: (comparable, disagreements) for agent, (comparable, disagreements) in figures.items()}


def _subjects(latest: pd.DataFrame, training: pd.DataFrame) -> dict[Any, str]:
    """Per corrected case, what makes two corrections comparable: its text, cleaned as the model
    sees it and normalised (case, whitespace), when the case is classifiable; else its id."""
    from case_model.prepare import prepare
    from case_model.status import Status

    training_texts = dict(zip(training.index, training["text"], strict=True))
    texts: dict[Any, str | None] = {}
    for case_id, text in zip(latest["case_id"], latest["text"], strict=True):
        if case_id in training_texts:
            texts[case_id] = str(training_texts[case_id])
        elif texts.get(case_id) is None:
            texts[case_id] = text if isinstance(text, str) and text.strip() else None
    subjects = {}
    for case_id, text in texts.items():
        prepared = prepare(text) if text is not None else None
        if prepared is not None and prepared.status is Status.OK:
            subjects[case_id] = "text:" + " ".join(prepared.text.casefold().split())
        else:
            subjects[case_id] = f"case:{case_id}"
    return subjects
