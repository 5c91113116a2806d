"""Training that resists a few bad actors: each agent's share of the corrections is reported and
capped, an agent whose labels keep contradicting the other agents' is left out, and small honest
data is left whole."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from case_model.training import cli, train
from case_model.training.agent_influence import AgentLimits, limit_agents
from case_model.training.corrections import UNKNOWN_AGENT, read_corrections

LABELS = ("battery_power", "display", "storage", "thermal_fan")


def _cases(n: int, prefix: str = "T") -> pd.DataFrame:
    """Training cases whose texts each say what they are (unique, so none is comparable by text)."""
    texts = {
        "battery_power": "the battery of laptop {i} drains in an hour and does not charge",
        "display": "the screen of laptop {i} flickers and shows horizontal lines",
        "storage": "the ssd of laptop {i} is not detected and the disk is slow",
        "thermal_fan": "the fan of laptop {i} is very loud and the laptop overheats",
    }
    labels = [LABELS[i % len(LABELS)] for i in range(n)]
    return pd.DataFrame(
        {
            "case_id": [f"{prefix}{i:05d}" for i in range(n)],
            "text": [texts[label].format(i=i) for i, label in enumerate(labels)],
            "label": labels,
        }
    )


def _corrections(cases: pd.DataFrame, agent: str, start: int = 0, minute: int = 0) -> pd.DataFrame:
    """``agent`` relabels each of ``cases`` to the next label, a minute apart from ``minute`` on."""
    return pd.DataFrame(
        {
            "case_id": cases["case_id"].tolist(),
            "corrected_label": [LABELS[(LABELS.index(label) + 1) % len(LABELS)] for label in cases["label"]],
            "timestamp": [
                (pd.Timestamp("2026-03-02T08:00:00Z") + pd.Timedelta(minutes=minute + i)).isoformat()
                for i in range(len(cases))
            ],
            "agent_id": agent,
        }
    )


def test_small_honest_data_is_left_whole():
    """Few corrections (under the floor), and few agents working equally hard (each a third of the
    work, above a 20 % share): nothing is capped."""
    cases = _cases(1200)
    few = pd.concat([_corrections(cases.iloc[i * 40 : (i + 1) * 40], f"a-{i}") for i in range(3)])
    kept, report = limit_agents(cases, few)
    assert len(kept) == len(few)
    assert report.left_out == {"cap": 0, "flagged": 0}
    assert report.agents["a-0"].share == pytest.approx(1 / 3, abs=1e-3)
    busy = pd.concat([_corrections(cases.iloc[i * 300 : (i + 1) * 300], f"a-{i}") for i in range(3)])
    kept, report = limit_agents(cases, busy)
    assert len(kept) == len(busy)
    assert report.left_out == {"cap": 0, "flagged": 0}
    assert {figures.applied for figures in report.agents.values()} == {300}


def test_an_agent_beyond_its_share_keeps_its_earliest_corrections_only():
    cases = _cases(1000)
    flood = _corrections(cases.iloc[:400], "mallory", minute=1000)
    # Its earlier correction of a case it later floods goes with the flood.
    earlier = _corrections(cases.iloc[399:400], "mallory", minute=0).assign(corrected_label="display")
    honest = [_corrections(cases.iloc[400 + i * 100 : 500 + i * 100], f"a-{i}") for i in range(4)]
    feedback = pd.concat([earlier, flood, *honest], ignore_index=True)
    kept, report = limit_agents(cases, feedback)
    mallory = report.agents["mallory"]
    # Five agents: a share of 20 %, so at most a quarter of the other agents' 400 corrections.
    assert (mallory.influential, mallory.cap, mallory.applied) == (400, 100, 100)
    assert mallory.share == pytest.approx(400 / 800)
    assert mallory.left_out_cap == 301  # 300 cases beyond the cap, one of them corrected twice
    assert report.capped_agents == ["mallory"]
    assert sorted(kept[kept["agent_id"] == "mallory"]["case_id"]) == cases["case_id"].iloc[:100].tolist()
    # After the cap, the agent holds the largest share allowed and no more.
    assert mallory.applied / sum(f.applied for f in report.agents.values()) == pytest.approx(0.2)
    again, _ = limit_agents(cases, feedback.sample(frac=1, random_state=3))
    assert sorted(again["case_id"]) == sorted(kept["case_id"])  # deterministic, whatever the row order
    _, uncapped = limit_agents(cases, feedback, AgentLimits(max_share=1))
    assert uncapped.left_out == {"cap": 0, "flagged": 0}


def test_corrections_without_an_agent_are_counted_but_never_capped_nor_flagged(tmp_path):
    cases = _cases(800)
    path = tmp_path / "feedback.csv"
    _corrections(cases.iloc[:600], "x").drop(columns="agent_id").to_csv(path, index=False)
    corrections = read_corrections(str(path))
    assert set(corrections["agent_id"]) == {UNKNOWN_AGENT}
    kept, report = limit_agents(cases, corrections)
    assert len(kept) == 600
    assert report.counts()["agents"] == 0
    assert report.agents[UNKNOWN_AGENT].cap is None


def test_a_file_names_the_agents_and_a_blank_one_is_unknown(tmp_path):
    path = tmp_path / "feedback.csv"
    path.write_text(
        "case_id,corrected_label,timestamp,agent_id\n"
        "A,storage,2026-01-01T00:00:00+00:00,a-7\n"
        "B,storage,2026-01-01T00:00:00+00:00,\n"
    )
    assert read_corrections(str(path))["agent_id"].tolist() == ["a-7", UNKNOWN_AGENT]


def test_the_store_names_the_agent_of_each_correction(tmp_path):
    from datetime import UTC, datetime

    from case_feedback.service.store import Correction, Store

    url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    store = Store(url)
    store.migrate()
    store.add_corrections(
        [Correction("A", "storage", "a-1", "crm-1"), Correction("B", "display", "a-2", "crm-1")], datetime.now(UTC)
    )
    store.close()
    exported = read_corrections(url).set_index("case_id")
    assert exported["agent_id"].to_dict() == {"A": "a-1", "B": "a-2"}


def _consensus(cases: pd.DataFrame, agents: list[str], label: str, case_ids: list[str]) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "case_id": case_ids,
                    "corrected_label": label,
                    "timestamp": "2026-03-02T08:00:00+00:00",
                    "agent_id": agent,
                }
            )
            for agent in agents
        ],
        ignore_index=True,
    )


def test_an_agent_against_the_others_is_flagged_only_on_enough_shared_cases():
    cases = _cases(40)
    ids = cases["case_id"].tolist()
    four = pd.concat(
        [_consensus(cases, ["a-1", "a-2"], "storage", ids[:4]), _consensus(cases, ["mallory"], "display", ids[:4])]
    )
    _, report = limit_agents(cases, four)
    assert report.agents["mallory"].disagreement_rate == 1.0
    assert report.flagged_agents == []  # four shared cases say too little
    five = pd.concat(
        [_consensus(cases, ["a-1", "a-2"], "storage", ids[:5]), _consensus(cases, ["mallory"], "display", ids[:5])]
    )
    kept, report = limit_agents(cases, five)
    assert report.flagged_agents == ["mallory"]
    assert report.left_out == {"cap": 0, "flagged": 5}
    assert set(kept["agent_id"]) == {"a-1", "a-2"}
    # The other two agree with each other (mallory's votes are gone): neither is flagged.
    assert report.agents["a-1"].disagreements == 0


def test_with_one_correction_per_case_the_consensus_comes_from_identical_texts():
    """The feedback store keeps the latest correction of each case: other agents' labels of the
    same text, in other cases, are the consensus there."""
    texts = [f"My Latitude 5440 number {i} shows no hard drive in the BIOS, the SSD is gone." for i in range(6)]
    rows = []
    for agent, label in (("a-1", "storage"), ("a-2", "storage"), ("mallory", "display")):
        for i, text in enumerate(texts):
            rows.append((f"{agent}-{i}", label, "2026-03-02T08:00:00+00:00", text, agent))
    # Whitespace and case do not make another text.
    rows.append(("a-3-0", "storage", "2026-03-02T08:00:00+00:00", texts[0].upper().replace(" ", "  "), "a-3"))
    feedback = pd.DataFrame(rows, columns=["case_id", "corrected_label", "timestamp", "text", "agent_id"])
    kept, report = limit_agents(_cases(4), feedback)
    assert report.flagged_agents == ["mallory"]
    assert report.agents["mallory"].comparable == 6
    assert report.agents["a-3"].comparable == 1
    assert "mallory" not in set(kept["agent_id"])


def test_an_honest_agent_who_only_met_the_flooder_is_judged_again_without_it():
    cases = _cases(40)
    ids = cases["case_id"].tolist()
    feedback = pd.concat(
        [
            _consensus(cases, ["honest"], "storage", ids[:6]),  # shared with mallory only
            _consensus(cases, ["a-2", "a-3"], "storage", ids[6:12]),
            _consensus(cases, ["mallory"], "display", ids[:12]),
        ]
    )
    _, report = limit_agents(cases, feedback)
    # Both disagree on every shared case; mallory on twice as many, so mallory goes first.
    assert report.flagged_agents == ["mallory"]
    assert report.agents["honest"].comparable == 0


def test_limits_out_of_range_are_refused():
    with pytest.raises(ValueError, match="maximum agent share"):
        AgentLimits(max_share=0)
    with pytest.raises(ValueError, match="disagreement"):
        AgentLimits(max_disagreement=1.5)
    with pytest.raises(ValueError, match="at least one"):
        AgentLimits(min_comparable=0)


@pytest.mark.slow
def test_a_flooding_agent_is_capped_flagged_named_and_moves_nothing(demo_cases, trained, model_wheel, tmp_path, capsys):
    """Five agents correct the demo data; a sixth relabels 300 cases to order_shipping, 20 of them
    cases the others corrected. Left out, the model is the one trained without the flood, answer
    for answer; let in, it would have cost order_shipping a third of its precision."""
    cases, feedback, validation = demo_cases
    corrected = sorted(set(feedback["case_id"]))
    agent_of = {case_id: f"agent-{i % 5}" for i, case_id in enumerate(corrected)}
    honest = feedback.assign(agent_id=feedback["case_id"].map(agent_of))
    target = "order_shipping"
    label = dict(zip(cases["case_id"], cases["label"], strict=True))
    honest_label = dict(zip(honest["case_id"], honest["corrected_label"], strict=True))  # the latest row last
    overlap = [c for c in corrected if label[c] != target and honest_label[c] != target][:20]
    fresh = [c for c in cases["case_id"] if c not in agent_of and label[c] != target][:280]
    start = pd.Timestamp("2027-01-04T08:00:00Z")  # after every honest correction
    flood = pd.DataFrame(
        {
            "case_id": overlap + fresh,
            "corrected_label": target,
            "timestamp": [(start + pd.Timedelta(minutes=i)).isoformat() for i in range(300)],
            "agent_id": "mallory",
        }
    )
    both = pd.concat([honest, flood], ignore_index=True)
    both.to_csv(tmp_path / "feedback.csv", index=False)
    cases.to_parquet(tmp_path / "cases.parquet")
    validation.to_parquet(tmp_path / "validation.parquet")
    argv = [
        "train",
        f"--data={tmp_path / 'cases.parquet'}",
        f"--validation={tmp_path / 'validation.parquet'}",
        f"--feedback={tmp_path / 'feedback.csv'}",
        f"--champion={model_wheel}",
        f"--out={tmp_path / 'dist'}",
        "--min-macro-f1=0",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    (line,) = [json.loads(text) for text in printed.splitlines() if text.startswith("{")]
    assert line["event"] == "training_corrections"
    assert line["agents"]["flagged_agent_ids"] == ["mallory"]
    assert line["agents"]["corrections_left_out"] == {"cap": 250, "flagged": 50}
    report = json.loads((tmp_path / "dist" / "report-1.1.0" / "report.json").read_text())
    agents = report["agents"]
    assert agents["flagged_agent_ids"] == agents["capped_agent_ids"] == ["mallory"]
    assert agents["flagged_agents"] == 1
    assert agents["corrections_left_out"] == {"cap": 250, "flagged": 50}
    mallory = agents["by_agent"]["mallory"]
    assert mallory["share"] > 0.8
    assert (mallory["cap"], mallory["left_out_cap"], mallory["applied"]) == (50, 250, 0)
    assert (mallory["comparable"], mallory["disagreement_rate"]) == (20, 1.0)
    assert not any(agents["by_agent"][f"agent-{i}"]["flagged"] for i in range(5))
    assert "| mallory | 300 |" in (tmp_path / "dist" / "report-1.1.0" / "report.md").read_text()
    # The honest agents' corrections are what was applied: the data, and so the model, of the
    # training without the flood (the session's model), answer for answer on the validation set.
    assert report["challenger"]["per_class"] == trained.evaluation.as_dict()["per_class"]
    (wheel,) = (tmp_path / "dist").glob("case_model-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = json.loads(archive.read("case_model/_artifact/metadata.json"))
        card = archive.read("case_model/_artifact/MODEL_CARD.md").decode()
    assert metadata["data_fingerprint"] == trained.data_fingerprint
    assert metadata["agents"]["corrections_left_out"] == {"cap": 250, "flagged": 50}
    assert metadata["agents"]["flagged_agents"] == 1
    assert "mallory" not in json.dumps(metadata)  # names are for the reviewer's report, not the wheel
    assert "1 flagged" in card
    # Without the defences the flood is learnt: the flooded label's precision falls.
    undefended = train(cases, validation, both, seed=0, agent_limits=AgentLimits(max_share=1, max_disagreement=1))
    assert undefended.agents.left_out == {"cap": 0, "flagged": 0}
    flooded = undefended.evaluation.per_class[target]["precision"]
    assert flooded < trained.evaluation.per_class[target]["precision"] - 0.15
