"""Labels and versions come from the served models: a real feedback service reads them from two
real predictors (production 1.0.0 and a canary 1.1.0 that brings a new label), over SQLite and
PostgreSQL.

An agent may name a label only the canary has; a label no served version has, or an event of a
version no server serves, is refused. When the canary goes away its version and its new label stop
being accepted once ``--served-models-keep-seconds`` have passed, and before any server has been
read nothing is accepted (503, try again).
"""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest

from case_feedback.service.served_models import ServedModels
from case_model import MODEL_NAME
from case_serving.model_labels import LABELS_PATH
from dev.stack import Ports, Stack, start_service
from tests.conftest import SIGNING_KEY, SOURCE_ENV
from tests.support.events import event
from tests.support.feedback import eventually, start_feedback

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served-models")]
#: The label only the canary has.
NEW_LABEL = "account_takeover"


@pytest.fixture(scope="module")
def canary_dir(demo_cases, tmp_path_factory):
    """A 1.1.0 artifact trained with one more label than production's."""
    from case_model.training import train
    from case_model.training.wheelbuild import write_artifact

    cases, feedback, validation = demo_cases
    cases, validation = cases.copy(), validation.copy()
    cases.loc[cases.index[:300], "label"] = NEW_LABEL
    validation.loc[validation.index[:60], "label"] = NEW_LABEL
    directory = tmp_path_factory.mktemp("artifact-1.1.0")
    write_artifact(train(cases, validation, feedback, seed=0), "1.1.0", directory, {}, SIGNING_KEY)
    return directory


@pytest.fixture(scope="module")
def predictors(artifact_dir, canary_dir, tmp_path_factory):
    """Each version's predictor, by version: its labels route and its process."""
    logs = tmp_path_factory.mktemp("served-logs")
    running = {}
    try:
        for version, model_dir in (("1.0.0", artifact_dir), ("1.1.0", canary_dir)):
            stack = Stack(ports=Ports.any(), model_dir=str(model_dir), env=SOURCE_ENV)
            stack, process = start_service(
                stack, "predictor", logs, lambda s, v=version: dataclasses.replace(s, name=f"predictor-{v}")
            )
            url = stack.url(stack.ports.predictor_http, LABELS_PATH.format(name=MODEL_NAME))
            running[version] = (url, process)
        yield running
    finally:
        for _, process in running.values():
            process.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _served(predictors, *versions: str) -> str:
    return "--served-models=" + ",".join(predictors[v][0] for v in versions)


def test_a_server_says_its_version_and_labels_on_any_of_its_paths(predictors, labels):
    url, _ = predictors["1.0.0"]
    answer = httpx.get(url, timeout=10).json()
    assert answer == {"name": MODEL_NAME, "version": "1.0.0", "labels": labels}
    versioned = url.replace(f"/models/{MODEL_NAME}/", f"/models/{MODEL_NAME}/versions/1.0.0/")
    assert httpx.get(versioned, timeout=10).json() == answer
    other = httpx.get(url.replace(f"/models/{MODEL_NAME}/", f"/models/{MODEL_NAME}/versions/0.9.0/"), timeout=10)
    assert other.status_code == 404
    canary = httpx.get(predictors["1.1.0"][0], timeout=10).json()
    assert canary["version"] == "1.1.0"
    assert set(canary["labels"]) == {*labels, NEW_LABEL}


def test_a_canary_label_is_taken_and_an_unserved_version_or_label_is_not(predictors, store_url, labels, tmp_path):
    feedback = start_feedback(store_url, labels, tmp_path, _served(predictors, "1.0.0", "1.1.0"))
    case = f"S-{uuid.uuid4().hex[:8]}"
    try:
        # The service reads the servers at start: the canary's label becomes a valid correction.
        first = eventually(lambda: (r := feedback.correct((case, NEW_LABEL))).status_code != 503 and r)
        assert first.status_code == 200, first.text
        made_up = feedback.correct((case, "made_up_label"))
        assert made_up.status_code == 400
        assert "made_up_label" in made_up.json()["error"]

        canary_event = event(case, "1.1.0", label=NEW_LABEL, top_labels=[NEW_LABEL, "display", "storage"])
        assert feedback.log([canary_event]).json()["stored"] == 1
        forged = feedback.log([event(f"{case}-f", "9.9.9")])
        assert forged.status_code == 400
        assert "9.9.9" in forged.json()["error"]
        assert "1.0.0" in forged.json()["error"]
        assert feedback.log([event(f"{case}-g", "1.0.0", label="made_up_label")]).status_code == 400
        assert feedback.quality("9.9.9") is None
    finally:
        feedback.process.stop()


def test_a_version_no_longer_served_stops_being_taken(predictors, canary_dir, store_url, labels, tmp_path):
    """The canary rolled back: its version and new label are refused once their keep period ends;
    production's are still taken."""
    stack = Stack(ports=Ports.any(), model_dir=str(canary_dir), env=SOURCE_ENV)
    stack, canary = start_service(stack, "predictor", tmp_path, lambda s: dataclasses.replace(s, name="canary"))
    canary_url = stack.url(stack.ports.predictor_http, LABELS_PATH.format(name=MODEL_NAME))
    feedback = start_feedback(
        store_url,
        labels,
        tmp_path,
        f"--served-models={predictors['1.0.0'][0]},{canary_url}",
        "--served-models-refresh-seconds=0.5",
        "--served-models-keep-seconds=2",
    )
    case = f"R-{uuid.uuid4().hex[:8]}"
    try:
        eventually(lambda: feedback.log([event(case, "1.1.0")]).status_code == 200)
        canary.stop()
        refused = eventually(lambda: (r := feedback.log([event(f"{case}-2", "1.1.0")])).status_code == 400 and r)
        assert "1.1.0" in refused.json()["error"]
        assert feedback.correct((case, NEW_LABEL)).status_code == 400
        assert feedback.log([event(f"{case}-3", "1.0.0")]).status_code == 200
        assert feedback.correct((case, "display")).status_code == 200
    finally:
        feedback.process.stop()
        canary.stop()


def test_nothing_is_taken_before_a_served_model_has_been_read(store_url, labels, tmp_path):
    """A server that never answers: the service cannot know what to take, and says so (503)."""
    nowhere = f"http://127.0.0.1:9{LABELS_PATH.format(name=MODEL_NAME)}"  # the discard port: refused
    feedback = start_feedback(store_url, labels, tmp_path, f"--served-models={nowhere}")
    try:
        refused = feedback.log([event(f"N-{uuid.uuid4().hex[:8]}", "1.0.0")])
        assert refused.status_code == 503
        assert "no served model" in refused.json()["error"]
        assert refused.headers["retry-after"]
        assert feedback.correct(("N-1", "display")).status_code == 503
    finally:
        feedback.process.stop()


def test_versions_are_kept_for_their_period_and_labels_are_the_union():
    now = [0.0]
    served = ServedModels(["http://127.0.0.1:1/unused"], keep_seconds=60, clock=lambda: now[0])
    assert served.catalogue() is None
    served.record("1.0.0", ["a", "b"])
    now[0] = 30.0
    served.record("1.1.0", ["a", "b", "c"])
    catalogue = served.catalogue()
    assert catalogue is not None
    assert catalogue.versions == {"1.0.0", "1.1.0"}
    assert catalogue.unknown(["c", "d", ""]) == ["d"]
    now[0] = 61.0  # 1.0.0 last seen at 0: past its keep period
    catalogue = served.catalogue()
    assert catalogue is not None
    assert catalogue.unserved(["1.0.0", "1.1.0"]) == ["1.0.0"]
    fixed = ServedModels([], fixed=["a"]).catalogue()
    assert fixed is not None
    assert fixed.unserved(["anything"]) == []
    assert fixed.unknown(["b"]) == ["b"]
