"""The predictor's KServe ``Model`` in-process, on a small model the real training code fits in
``tmp_path``: a verified load, a refused artifact, the V2 answer and its limits.

``test_predictor.py`` checks the same through a running predictor process and the session's
model; these run in well under a second once the small model is trained (once per test process).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kserve.errors import InvalidInput, ModelNotReady
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from case_model import load
from case_signing import ProvenanceError
from case_signing.signature import SIGNATURE_FILE
from predictor.model import CaseClassifierModel
from predictor.settings import PredictorSettings
from tests.support.inprocess import VERSION, small_artifact

pytestmark = pytest.mark.anyio

BATTERY = "The battery of my laptop does not charge any more, it stays at 0%."
FAN = "The fan of my laptop is extremely loud and it overheats when idle."
BIOS = "My laptop does not boot after the BIOS update, it stays on the logo."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_artifact(tmp_path_factory)


@pytest.fixture(scope="module")
def predictor(model_dir: Path) -> CaseClassifierModel:
    model = CaseClassifierModel("case-classifier", PredictorSettings(model_dir=str(model_dir), max_batch_cases=64))
    assert model.load()
    return model


def _request(texts: list[str], **parameters: object) -> InferRequest:
    inputs = [InferInput("text", [len(texts)], "BYTES", texts)]
    return InferRequest("case-classifier", inputs, request_id="p-1", parameters=parameters or None)


async def _outputs(model: CaseClassifierModel, request: InferRequest) -> dict[str, list]:
    response, _ = await model(request, headers={})
    assert isinstance(response, InferResponse)
    return {output.name: list(output.data) for output in response.outputs}


async def test_plain_cases_get_their_category(predictor):
    out = await _outputs(predictor, _request([BATTERY, FAN, BIOS]))
    assert out["label"] == ["battery_power", "thermal_fan", "boot_bios"]
    assert all(0.0 < c <= 1.0 for c in out["confidence"])


async def test_a_batch_answers_exactly_what_the_model_file_predicts(predictor, model_dir):
    from case_model.training.demo_data import generate_cases

    texts = [case.text for case in generate_cases(40, seed=99, prefix="X")]
    out = await _outputs(predictor, _request(texts))
    expected = load(model_dir).predict(texts)
    assert out["label"] == expected.labels
    assert out["confidence"] == pytest.approx(expected.confidences.tolist(), rel=1e-6)
    assert len(out["top_labels"]) == 40 * 3
    assert out["top_labels"][::3] == out["label"]  # the label is the first of the top labels
    assert out["top_probabilities"][::3] == pytest.approx(out["confidence"])


async def test_the_answer_carries_id_version_and_declared_shapes(predictor):
    response, _ = await predictor(_request([BATTERY, FAN]), headers={})
    assert (response.id, response.model_version) == ("p-1", VERSION)
    assert response.parameters == {"model_version": VERSION}  # for clients that drop model_version
    shapes = {o.name: (o.datatype, o.shape) for o in response.outputs}
    assert shapes == {
        "label": ("BYTES", [2]),
        "confidence": ("FP32", [2]),
        "top_labels": ("BYTES", [2, 3]),
        "top_probabilities": ("FP32", [2, 3]),
    }


async def test_the_explanation_only_when_asked_with_terms_of_the_case(predictor):
    assert "explanation" not in await _outputs(predictor, _request([FAN]))
    out = await _outputs(predictor, _request([FAN], explain=True))
    terms = json.loads(out["explanation"][0])
    assert terms
    assert all(weight > 0 for _, weight in terms)
    assert any(term in FAN.lower() for term, _ in terms)


async def test_a_megabyte_text_is_cut_and_answered_the_same_each_time(predictor):
    text = BATTERY + " " + "The battery of my laptop does not charge. " * 25_000
    first = await _outputs(predictor, _request([text]))
    second = await _outputs(predictor, _request([text]))
    assert first == second
    assert first["label"] == ["battery_power"]


async def test_a_batch_over_the_limit_is_refused(predictor):
    with pytest.raises(InvalidInput, match="exceeds the maximum of 64"):
        await predictor(_request([FAN] * 65), headers={})


async def test_the_predictor_takes_only_the_text_input(predictor):
    request = _request([FAN])
    request.inputs.append(InferInput("case_id", [1], "BYTES", ["C-1"]))
    with pytest.raises(InvalidInput, match="at most 1"):
        await predictor(request, headers={})


async def test_metadata_declares_the_predictor_contract(predictor):
    assert [t["name"] for t in predictor.get_input_types()] == ["text"]
    assert {t["name"] for t in predictor.get_output_types()} == {
        "label",
        "confidence",
        "top_labels",
        "top_probabilities",
        "explanation",
    }


async def test_before_its_model_is_loaded_the_predictor_is_not_ready(model_dir):
    model = CaseClassifierModel("case-classifier", PredictorSettings(model_dir=str(model_dir)))
    assert not model.ready
    assert model.version is None
    with pytest.raises(ModelNotReady):
        await model(_request([FAN]), headers={})


def test_a_tampered_model_file_is_refused_and_never_ready(model_dir, tmp_path):
    tampered = tmp_path / "artifact"
    shutil.copytree(model_dir, tampered)
    with (tampered / "model.npz").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    model = CaseClassifierModel("case-classifier", PredictorSettings(model_dir=str(tampered)))
    with pytest.raises(ProvenanceError, match=r"changed since signing: 'model\.npz'"):
        model.load()
    assert not model.ready
    assert model.classifier is None


def test_an_unsigned_artifact_is_refused(model_dir, tmp_path):
    unsigned = tmp_path / "artifact"
    shutil.copytree(model_dir, unsigned)
    (unsigned / SIGNATURE_FILE).unlink()
    model = CaseClassifierModel("case-classifier", PredictorSettings(model_dir=str(unsigned)))
    with pytest.raises(ProvenanceError, match="not signed"):
        model.load()
    assert not model.ready


async def test_a_small_batch_is_predicted_on_the_loop_and_a_large_one_in_the_predict_thread(model_dir):
    """Up to ``inline_predict_texts`` texts the thread hop costs more than the prediction; above
    it the loop must stay free (health checks, the next requests) while the batch is predicted."""
    import threading

    model = CaseClassifierModel(
        "case-classifier", PredictorSettings(model_dir=str(model_dir), inline_predict_texts=2, batch_max_size=64)
    )
    assert model.load()
    assert model.classifier is not None
    threads: list[str] = []
    predict = model.classifier.predict

    def recording(texts: list[str]):
        threads.append(threading.current_thread().name)
        return predict(texts)

    model.classifier.predict = recording  # type: ignore[method-assign]
    small = await _outputs(model, _request([BATTERY, FAN]))
    large = await _outputs(model, _request([BATTERY, FAN, BIOS]))
    assert small["label"] == ["battery_power", "thermal_fan"]
    assert large["label"] == ["battery_power", "thermal_fan", "boot_bios"]
    long = await _outputs(model, _request([BATTERY * 40, FAN * 40]))  # two texts, 5,000+ characters
    assert len(long["label"]) == 2
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("predict")
    assert threads[2].startswith("predict")


async def test_a_line_per_request_only_with_the_access_log_on(model_dir, caplog):
    """The request log follows ``--access-log``: off (the default), the predictor writes nothing
    per request; on, one line with the count of cases and the model version, never the texts."""
    for access_log, expected in ((False, 0), (True, 1)):
        settings = PredictorSettings(model_dir=str(model_dir), access_log=access_log)
        model = CaseClassifierModel("case-classifier", settings)
        assert model.load()
        caplog.clear()
        with caplog.at_level("INFO", logger="predictor"):
            await _outputs(model, _request([BATTERY, FAN]))
        lines = [r for r in caplog.records if r.getMessage() == "predicted"]
        assert len(lines) == expected
        for record in lines:
            assert record.__dict__["cases"] == 2
            assert record.__dict__["model_version"] == VERSION
            assert BATTERY not in str(record.__dict__)
