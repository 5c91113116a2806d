"""The prediction log: every case the transformer answers reaches the feedback store, with the
masked text the model saw, off the request path; with the store away, answers go on, events wait
in a bounded buffer, and what does not fit is dropped and counted."""

from __future__ import annotations

import dataclasses
import json
import uuid

import httpx
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest
from sqlalchemy import bindparam, create_engine, text

from case_model.pii.kinds import EMAIL
from case_serving import warmup
from dev.processes import LOOPBACK
from dev.stack import Ports, Stack, start_service
from tests.conftest import SOURCE_ENV
from tests.support.auth import bearer, token, write_token
from tests.support.feedback import eventually, start_feedback
from tests.support.v2 import MODEL, infer, infer_body, metric, outputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]
SECRET = "jane.doe@example.com"
BATTERY = f"My laptop battery does not charge any more, write to {SECRET} please."
AUTO = "Automatic reply: I am out of the office until Monday."


def _logged(store_url: str, case_ids: list[str]) -> dict[str, dict]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT * FROM predictions WHERE case_id IN :ids").bindparams(bindparam("ids", expanding=True))
            rows = connection.execute(query, {"ids": case_ids}).mappings()
            found = {row["case_id"]: dict(row) for row in rows}
    finally:
        engine.dispose()
    for row in found.values():  # JSON columns, as raw SQL returns them from SQLite
        for name in ("top_labels", "top_probabilities"):
            row[name] = json.loads(row[name]) if isinstance(row[name], str) else row[name]
    return found


def _check(row: dict, answer: dict[str, object], request_id: str) -> None:
    assert row["label"] == answer["label"]
    assert row["status"] == answer["status"]
    assert row["language"] == answer["language"]
    assert row["confidence"] == pytest.approx(answer["confidence"], abs=1e-6)
    assert row["model_version"] == "1.0.0"
    assert row["request_id"] == request_id
    assert row["source"] == "online"


def test_rest_answers_are_logged_with_the_masked_text(stack):
    ids = [f"LOG-{uuid.uuid4().hex[:8]}-{i}" for i in range(2)]
    answer = outputs(infer(stack.transformer_url, infer_body([BATTERY, AUTO], ids, request_id="log-rest")))
    rows = eventually(lambda: (r := _logged(stack.stack.feedback_store, ids)) and len(r) == 2 and r)
    for i, case_id in enumerate(ids):
        _check(rows[case_id], {name: values[i] for name, values in answer.items()}, "log-rest")
    battery = rows[ids[0]]
    assert SECRET not in battery["text"]
    assert "battery does not charge" in battery["text"]
    assert EMAIL in battery["text"]
    assert battery["top_labels"][0] == answer["label"][0]
    assert len(battery["top_labels"]) == len(battery["top_probabilities"]) == 3
    assert rows[ids[1]]["status"] == "auto_reply"
    assert rows[ids[1]]["top_labels"] == []


@pytest.mark.anyio
async def test_grpc_answers_are_logged_too(stack):
    case_id = f"LOG-{uuid.uuid4().hex[:8]}-grpc"
    client = InferenceGRPCClient(f"{LOOPBACK}:{stack.stack.ports.grpc}", timeout=10)
    try:
        request = InferRequest(
            MODEL,
            [InferInput("text", [1], "BYTES", [BATTERY]), InferInput("case_id", [1], "BYTES", [case_id])],
            request_id="log-grpc",
        )
        response = await client.infer(request, headers=[("authorization", f"Bearer {token('crm')}")])
    finally:
        await client.close()
    label = response.get_output_by_name("label").as_numpy()[0]
    rows = eventually(lambda: _logged(stack.stack.feedback_store, [case_id]))
    assert rows[case_id]["label"] == (label.decode() if isinstance(label, bytes) else label)
    assert rows[case_id]["request_id"] == "log-grpc"
    assert SECRET not in rows[case_id]["text"]


def test_a_logged_case_can_be_corrected_and_counts_in_quality(stack):
    case_id = f"LOG-{uuid.uuid4().hex[:8]}-fix"
    answer = outputs(infer(stack.transformer_url, infer_body([BATTERY], [case_id])))
    eventually(lambda: _logged(stack.stack.feedback_store, [case_id]))
    wrong = "display" if answer["label"][0] != "display" else "storage"
    body = {"corrections": [{"case_id": case_id, "label": wrong, "agent_id": "a-17"}]}
    corrected = httpx.post(f"{stack.feedback_url}/v1/corrections", json=body, timeout=10, headers=bearer("crm"))
    assert corrected.json() == {"accepted": 1, "unknown_case_ids": []}


def _logging_chain(stack, labels, tmp_path, token_roles=("service",)):
    """A transformer in front of the stack's predictor whose prediction log goes to a feedback
    service of its own, with a buffer of 20 events and batches of 5; its token file holds a token
    of ``token_roles``. Returns (url, feedback, transformer, token file)."""
    feedback = start_feedback(f"sqlite:///{tmp_path / 'f.sqlite'}", labels, tmp_path)
    feedback_port = int(feedback.url.rsplit(":", 1)[1])
    # The prediction log presents a service token, as the stack's transformer does.
    service_token = tmp_path / "service-token"
    write_token(service_token, list(token_roles), "logging-transformer", 3 * 3600)
    ports = Ports.any(
        predictor_grpc=stack.stack.ports.predictor_grpc,
        language=stack.stack.ports.language,
        feedback=feedback_port,
    )
    chain = Stack(
        ports=ports,
        feedback_store="its own",  # the feedback service above; the chain's transformer logs to it
        transformer_args=("--language-mode", "local", "--feedback-buffer-events", "20", "--feedback-batch-events", "5"),
        env=SOURCE_ENV,
        service_token_file=str(service_token),
    )
    try:
        chain, transformer = start_service(
            chain, "transformer", tmp_path, lambda service: dataclasses.replace(service, name="logging-transformer")
        )
    except BaseException:  # a transformer that cannot start must not leave its feedback service running
        feedback.process.stop()
        raise
    return chain.url(chain.ports.http), feedback, transformer, service_token


@pytest.fixture
def logging_transformer(stack, labels, tmp_path):
    """See :func:`_logging_chain`, with a service token."""
    url, feedback, transformer, _ = _logging_chain(stack, labels, tmp_path)
    yield url, feedback, transformer
    transformer.stop()
    feedback.process.stop()


def test_a_refused_token_keeps_the_events_until_the_rotated_one_is_accepted(stack, labels, tmp_path):
    """The log's token is refused (a reader's: 403): the caller was refused, not the events, so they
    stay buffered and nothing is counted refused. The kubelet writes the next token to the same
    file; the log reads it at its next attempt and the buffered events arrive."""
    url, feedback, transformer, token_file = _logging_chain(stack, labels, tmp_path, ("reader",))
    try:
        ids = [f"rot-{uuid.uuid4().hex[:6]}-{n}" for n in range(8)]
        for case_id in ids:
            assert outputs(infer(url, infer_body([BATTERY], [case_id])))["label"]
        eventually(lambda: metric(url, "case_classifier_prediction_log_send_failures_total") >= 1)
        assert metric(url, "case_classifier_prediction_log_events_total", {"outcome": "refused"}) == 0
        assert not _logged(feedback.store_url, ids)
        write_token(token_file, ["service"], "logging-transformer", 3 * 3600)  # rotated
        rows = eventually(lambda: (found := _logged(feedback.store_url, ids)) and len(found) == len(ids) and found, 30)
        assert sorted(rows) == sorted(ids)
        assert metric(url, "case_classifier_prediction_log_events_total", {"outcome": "dropped"}) == 0
    finally:
        transformer.stop()
        feedback.process.stop()


def test_with_the_store_away_answers_go_on_and_drops_are_counted(logging_transformer, labels, tmp_path, reliability):
    url, feedback, _ = logging_transformer
    # Polled below a reader's rate at the feedback service (5/s), which would answer 429 above it.
    eventually(lambda: outputs(infer(url, infer_body([BATTERY], ["warm-0"]))) and feedback.quality("1.0.0"), every=0.3)
    feedback.process.stop()  # the store's service goes away
    answered = 0
    for n in range(50):
        response = infer(url, infer_body([BATTERY], [f"away-{n}"], request_id=f"away-{n}"))
        assert response.status_code == 200, response.text
        answered += 1
    dropped = eventually(lambda: metric(url, "case_classifier_prediction_log_events_total", {"outcome": "dropped"}))
    buffered = metric(url, "case_classifier_prediction_log_buffered")
    assert buffered <= 20
    assert dropped >= 50 - 20 - 5  # at most the buffer and one batch in flight were kept
    assert metric(url, "case_classifier_prediction_log_send_failures_total") >= 1
    # The service comes back on its port: what was buffered arrives, the newest cases among it.
    back = start_feedback(feedback.store_url, labels, tmp_path / "back", port=int(feedback.url.rsplit(":", 1)[1]))
    try:
        rows = eventually(lambda: (r := _logged(back.store_url, ["away-49"])) and r, timeout=30)
        assert "away-49" in rows
        assert not _logged(back.store_url, ["away-0"])  # among the oldest, dropped
        sent = metric(url, "case_classifier_prediction_log_events_total", {"outcome": "sent"})
        assert sent + dropped >= answered
    finally:
        back.process.stop()
    reliability.record(
        "Feedback service faults",
        "feedback service stopped while the transformer answers 50 cases",
        answered,
        f"50 answered 200; {int(dropped)} events dropped and counted, buffer kept at most 20; rest sent on return",
    )


def test_cases_answered_right_before_a_stop_are_logged(logging_transformer):
    url, feedback, transformer = logging_transformer
    for n in range(5):
        assert infer(url, infer_body([BATTERY], [f"last-{n}"])).status_code == 200
    transformer.stop()
    rows = eventually(lambda: (r := _logged(feedback.store_url, [f"last-{n}" for n in range(5)])) and len(r) == 5 and r)
    assert len(rows) == 5


def test_warm_up_requests_are_not_logged(stack):
    """The transformer warms itself up with real requests before it is ready; those are its own
    traffic and must not count as predictions of the model version."""
    engine = create_engine(stack.stack.feedback_store)
    try:
        with engine.connect() as connection:
            query = text("SELECT COUNT(*) FROM predictions WHERE request_id = :rid")
            count = connection.execute(query, {"rid": warmup.REQUEST_ID}).scalar_one()
    finally:
        engine.dispose()
    assert count == 0


def test_a_case_id_no_store_keeps_is_refused_before_anything_is_classified(stack):
    """One NUL among 256 case ids: a 400 naming why, not a 200 whose events the store would refuse."""
    ids = [f"nul-{uuid.uuid4().hex[:6]}-{n}" for n in range(256)]
    ids[17] = "CASE\x00-17"
    answer = infer(stack.transformer_url, infer_body([BATTERY] * 256, ids))
    assert answer.status_code == 400
    assert "case_id" in answer.json()["error"]
    assert "NUL" in answer.json()["error"]
    assert not _logged(stack.stack.feedback_store, ids[:3])


@pytest.mark.anyio
async def test_a_refused_event_is_dropped_alone_never_its_batch(stack, tmp_path):
    """The log sends 256 events of which the service refuses one (a label too long to store): the
    batch is split until that one is found; the 255 others are stored, one is counted refused."""
    from case_feedback.prediction_log import EVENTS, LogConfig, PredictionLog

    ids = [f"split-{uuid.uuid4().hex[:6]}-{n}" for n in range(256)]
    token_file = tmp_path / "token"
    write_token(token_file, ["service"], "split-test", 3600)
    log = PredictionLog(
        LogConfig(url=f"{stack.feedback_url}/v1/predictions", batch_events=256, token_file=str(token_file))
    )
    events = [
        {
            "case_id": case_id,
            "request_id": "split",
            "event_id": f"split/{case_id}",
            "model_version": "1.0.0",
            "label": "x" * 200 if n == 100 else "display",
            "confidence": 0.9,
            "status": "ok",
            "language": "en",
            "top_labels": ["display"],
            "top_probabilities": [0.9],
            "text": "a case",
            "predicted_at": 0.0,
            "source": "online",
        }
        for n, case_id in enumerate(ids)
    ]
    refused_before = EVENTS.labels("refused")._value.get()
    sent_before = EVENTS.labels("sent")._value.get()
    log.record(events)  # type: ignore[arg-type]
    await log.close()
    assert EVENTS.labels("refused")._value.get() - refused_before == 1
    assert EVENTS.labels("sent")._value.get() - sent_before == 255
    stored = _logged(stack.stack.feedback_store, ids)
    assert len(stored) == 255
    assert ids[100] not in stored


@pytest.mark.anyio
async def test_shutdown_losses_are_counted_and_late_events_too(tmp_path):
    """With the feedback service away, what is buffered at shutdown is counted as dropped by the
    flush that runs while /metrics still answers; an event recorded after close is counted too."""
    from case_feedback.prediction_log import EVENTS, LogConfig, PredictionLog
    from dev.processes import refusing_port

    with refusing_port() as port:
        log = PredictionLog(LogConfig(url=f"http://{LOOPBACK}:{port}/v1/predictions", flush_seconds=1.0))
        event = {"case_id": "gone", "request_id": "r", "event_id": "r/0", "model_version": "1.0.0", "label": "x"}
        before = EVENTS.labels("dropped")._value.get()
        log.record([event] * 7)  # type: ignore[list-item]
        await log.flush()
        assert EVENTS.labels("dropped")._value.get() - before == 7
        await log.close()
        log.record([event] * 2)  # type: ignore[list-item]
        assert EVENTS.labels("dropped")._value.get() - before == 9


def test_the_transformer_counts_its_shutdown_losses_before_it_stops_serving(logging_transformer):
    """The flush at shutdown runs after the drain period and before Uvicorn shuts down, so its
    count of dropped events reaches /metrics while /metrics still answers: the transformer's own
    log shows the count before Uvicorn's shutdown."""
    url, feedback, transformer = logging_transformer
    feedback.process.stop()  # nowhere to send
    for n in range(3):
        assert infer(url, infer_body([BATTERY], [f"lost-{n}"])).status_code == 200
    transformer.stop()
    lines = transformer.log_path.read_text().splitlines()
    dropped = next(i for i, line in enumerate(lines) if "prediction log events dropped at shutdown" in line)
    shutting = next(i for i, line in enumerate(lines) if "Shutting down" in line)
    assert dropped < shutting
    assert '"dropped": 3' in lines[dropped]


@pytest.mark.anyio
async def test_an_event_that_cannot_be_encoded_is_dropped_and_counted_never_raised(tmp_path):
    """Events are encoded when recorded; one the encoder refuses must not fail the answer that
    recorded it: it is counted as dropped, and the others of the same answer are kept."""
    from case_feedback.prediction_log import EVENTS, LogConfig, PredictionLog
    from dev.processes import refusing_port

    with refusing_port() as port:
        log = PredictionLog(LogConfig(url=f"http://{LOOPBACK}:{port}/v1/predictions", flush_seconds=0.2))
        good = {"case_id": "kept", "request_id": "r", "event_id": "r/0", "model_version": "1.0.0", "label": "x"}
        bad = {**good, "case_id": "odd", "confidence": object()}
        before = EVENTS.labels("dropped")._value.get()
        log.record([good, bad, good])  # type: ignore[list-item]
        assert EVENTS.labels("dropped")._value.get() - before == 1
        assert log.buffered == 2
        await log.close()
