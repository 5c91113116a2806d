"""The older design this service replaces, for comparison only: one FastAPI app under Gunicorn.

Each Uvicorn worker process does the whole job per request, in-process: text steps, language
detection (the local detector), then ``predict_proba`` of the same model file, unpickled with
joblib, answering the same V2 JSON route. Scaling is Gunicorn workers, one per core. Run by
``make bench`` as::

    gunicorn -k uvicorn.workers.UvicornWorker -w 2 -b 127.0.0.1:PORT bench.fastapi_app:app

with ``CASE_MODEL_DIR`` naming the directory of ``model.joblib``. Not part of the product.
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

from case_model import clean_text
from case_model.language import DETECTOR_LANGUAGES, LocalDetector

NAME = "case-classifier"
SUPPORTED = {"en", "de", "fr", "es"}

app = FastAPI()
pipeline = joblib.load(Path(os.environ["CASE_MODEL_DIR"]) / "model.joblib")
detector = LocalDetector(DETECTOR_LANGUAGES)


class Tensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[str]


class V2Request(BaseModel):
    id: str | None = None
    inputs: list[Tensor]


@app.get(f"/v2/models/{NAME}/ready")
def ready() -> dict:
    return {"name": NAME, "ready": True}


@app.post(f"/v2/models/{NAME}/infer")
def infer(request: V2Request) -> dict:
    texts = [clean_text(text) for text in request.inputs[0].data]
    languages = [detection.language for detection in detector.detect_many(texts)]
    labels, confidences = [""] * len(texts), [0.0] * len(texts)
    keep = [i for i, (text, lang) in enumerate(zip(texts, languages, strict=True)) if text and lang in SUPPORTED]
    if keep:
        probabilities = pipeline.predict_proba([texts[i] for i in keep])
        for row, i in enumerate(keep):
            best = int(probabilities[row].argmax())
            labels[i], confidences[i] = str(pipeline.classes_[best]), float(probabilities[row, best])
    return {
        "id": request.id or "",
        "model_name": NAME,
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [len(labels)], "data": labels},
            {"name": "confidence", "datatype": "FP32", "shape": [len(labels)], "data": confidences},
            {"name": "language", "datatype": "BYTES", "shape": [len(labels)], "data": languages},
        ],
    }
