"""No pickle is loaded anywhere in the serving path: watched by the interpreter's own audit hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, SOURCE_ENV

# Runs the whole serving path in a fresh interpreter under audit hooks (~6 s of `make check`).
pytestmark = pytest.mark.slow

# Everything the predictor, the transformer, the language service and the batch scorer load and
# run for a case, in one fresh interpreter that reports every unpickling it sees. An unpickling of
# anything but plain data resolves a global (the "pickle.find_class" audit event), which is how a
# pickle runs code; opening a .joblib/.pkl file is reported too.
PROBE = """
import json, sys
seen = []
def hook(event, args):
    if event == "pickle.find_class" or (
        event == "open" and str(args[0]).endswith((".joblib", ".pkl", ".pickle"))
    ):
        seen.append([event, [str(a) for a in args]])
sys.addaudithook(hook)

from pathlib import Path
import pandas as pd
from case_model import LocalDetector, load, prepare_many
from case_batch.scoring import CaseScorer, ScoringConfig

artifact = Path(sys.argv[1])
model = load(artifact)
texts = [p.text for p in prepare_many(["My laptop battery does not charge.", "Der Lüfter ist sehr laut."])]
model.predict(texts)
model.explain(texts[0], model.predict(texts).labels[0])
LocalDetector().detect_many(texts)
CaseScorer(ScoringConfig(model_dir=str(artifact)))(pd.DataFrame({"case_id": ["1"], "text": ["the fan is loud"]}))
print(json.dumps({"pickle_events": seen}))
"""


def test_no_pickle_is_loaded_in_the_serving_path(artifact_dir, reliability):

    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(artifact_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, **SOURCE_ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pickle_events"] == []
    reliability.record(
        "Artifact and images",
        "serving path (load, predict, explain, language, batch scorer) under an unpickling audit hook",
        1,
        "no pickle loaded, no pickle file opened",
    )


def test_the_probe_does_see_an_unpickling(tmp_path):
    """The audit hook is not blind: a pickled pipeline loaded the old way is reported."""
    import joblib

    joblib.dump(pd.DataFrame({"a": [1]}), tmp_path / "model.joblib")
    probe = PROBE.split("from pathlib import Path")[0] + (
        "import joblib\n"
        f"joblib.load({str(tmp_path / 'model.joblib')!r})\n"
        "print(json.dumps({'pickle_events': seen}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    events = {event for event, _ in json.loads(result.stdout.strip().splitlines()[-1])["pickle_events"]}
    assert events == {"open", "pickle.find_class"}
