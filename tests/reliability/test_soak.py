"""The soak script in its short mode: load with good and bad requests while the language service
is killed and restarted; nothing unexpected, memory bounded, the breaker opens and closes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SOURCE_ENV

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("soak")]


def test_short_soak_has_nothing_unexpected(artifact_dir, tmp_path, reliability):
    report_path = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--short", "--model-dir", str(artifact_dir), "--report", str(report_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, **SOURCE_ENV},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["problems"] == []
    assert report["unexpected"] == {}
    assert report["requests"] > 1000
    assert set(report["by_kind"]) >= {"good", "malformed JSON", "wrong content type", "unknown model"}
    assert report["language_restarts"] >= 2
    assert all(report["detection_resumed"])
    assert report["breaker_transitions"]["open"] >= 1
    assert report["breaker_transitions"]["closed"] >= 1
    assert report["language_fallbacks"] > 0  # the outage was felt, and answered
    for kind, count in report["by_kind"].items():
        reliability.record("Soak", f"short soak: {kind}", count, "answered as expected (0 unexpected)")
    reliability.record(
        "Soak",
        f"short soak: language service killed and restarted ({report['language_restarts']}x)",
        report["language_restarts"],
        f"breaker {report['breaker_transitions']}; detection resumed every time",
    )
