"""A request's answer comes from one model version end to end.

The rollout keeps each request inside one slot (tests/case_rollout/test_rollout.py); this replays
what that design rules out, a canary where the transformer and the predictor run different
versions, with real processes: a transformer running the installed 1.0.0 wheel's text steps, wired
once to a predictor of 1.0.0 and once to a predictor of 2.0.0. The mismatched pair answers no case
with the other version's classifier: the call is refused (503, both versions named), counted, and
the cases that need no classifier are still answered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dev.stack import Ports, Stack, start_service
from tests.conftest import SIGNING_KEY, SOURCE_ENV
from tests.support.v2 import infer, infer_body, metric, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
BATTERY = "My laptop battery does not charge any more since yesterday."
AUTO = "Automatic reply: I am out of the office until Monday."


@pytest.fixture(scope="module")
def chains(stack, trained, model_wheel, tmp_path_factory):
    """Transformer URLs by the predictor version behind them: "1.0.0" (its own) and "2.0.0"."""
    from case_model.training.wheelbuild import write_artifact

    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(model_wheel)],
        check=True,
    )
    # As in an image: case_model (text steps and model) from the installed 1.0.0 wheel.
    installed = {"PYTHONPATH": str(site)}
    other = tmp_path_factory.mktemp("artifact-2.0.0")
    write_artifact(trained, "2.0.0", other, {}, SIGNING_KEY)
    logs = tmp_path_factory.mktemp("pinning-logs")
    running, urls = [], {}
    try:
        for version, model_dir, predictor_env in (("1.0.0", None, installed), ("2.0.0", str(other), SOURCE_ENV)):
            # Each on ports it holds; the transformer pointed at the ones the predictor got.
            chain = Stack(ports=Ports.any(language=stack.stack.ports.language), model_dir=model_dir, env=installed)
            with _unmeasured(predictor_env is installed):
                chain, predictor = start_service(
                    chain,
                    "predictor",
                    logs,
                    lambda service, v=version, e=predictor_env: dataclasses.replace(
                        service, name=f"predictor-{v}", env=e
                    ),
                )
            running.append(predictor)
            with _unmeasured():
                chain, transformer = start_service(
                    chain,
                    "transformer",
                    logs,
                    lambda service, v=version: dataclasses.replace(service, name=f"transformer-to-{v}"),
                )
            running.append(transformer)
            urls[version] = chain.url(chain.ports.http)
        yield urls
    finally:
        for process in reversed(running):
            process.stop()


@contextlib.contextmanager
def _unmeasured(really: bool = True) -> Iterator[None]:
    """Start a process without coverage: the installed copy of case_model is not the project's
    source, and measuring it would count its lines as untested ones. (Processes inherit the
    environment at start, so the variables are back before any other test runs.)"""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if really and k.startswith("COVERAGE_")}
    try:
        yield
    finally:
        os.environ.update(saved)


def test_a_transformer_and_a_predictor_of_one_version_answer(chains):
    response = infer(chains["1.0.0"], infer_body([BATTERY, AUTO]))
    out = outputs(response)
    assert out["status"] == ["ok", "auto_reply"]
    assert out["label"][0] == "battery_power"
    assert response.json()["model_version"] == "1.0.0"


def test_an_answer_across_versions_is_refused_never_served(chains):
    url = chains["2.0.0"]
    before = metric(url, "case_classifier_predictor_calls_total", {"outcome": "version_mismatch"})
    response = infer(url, infer_body([BATTERY, AUTO]))
    assert response.status_code == 503, response.text
    message = response.json()["error"]
    assert "the predictor serves model version 2.0.0, these text steps are version 1.0.0" in message
    assert metric(url, "case_classifier_predictor_calls_total", {"outcome": "version_mismatch"}) == before + 1
    # Cases that need no classifier are answered by the text steps alone, under their own version.
    filtered = infer(url, infer_body([AUTO, ""]))
    assert outputs(filtered)["status"] == ["auto_reply", "empty"]
    assert filtered.json()["model_version"] == "1.0.0"
