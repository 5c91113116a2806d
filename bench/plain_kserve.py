"""The baseline: the plain way to serve this model on KServe, for comparison only.

``python -m bench.plain_kserve predictor --model-dir DIR --http_port N`` is a custom
``kserve.Model`` that unpickles the same model file and predicts per request, as KServe's
examples do. ``python -m bench.plain_kserve transformer --predictor_host H --http_port N`` is a
plain KServe transformer that cleans the texts in ``preprocess`` and forwards every request to
that predictor over V2 REST. Not part of the product.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import joblib
from kserve import InferInput, InferOutput, InferRequest, InferResponse, Model, ModelServer, model_server

from case_model import clean_text

NAME = "case-classifier"


class PlainPredictor(Model):
    def __init__(self, model_dir: str) -> None:
        super().__init__(NAME)
        self.model_dir = model_dir
        self.load()

    def load(self) -> bool:
        self.pipeline = joblib.load(Path(self.model_dir) / "model.joblib")
        self.ready = True
        return True

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        texts = payload.inputs[0].data
        probabilities = self.pipeline.predict_proba(texts)
        best = probabilities.argmax(axis=1)
        labels = [str(self.pipeline.classes_[i]) for i in best]
        return InferResponse(
            response_id=payload.id or "",
            model_name=self.name,
            infer_outputs=[
                InferOutput("label", [len(labels)], "BYTES", labels),
                InferOutput("confidence", [len(labels)], "FP32", probabilities.max(axis=1).tolist()),
            ],
        )


class PlainTransformer(Model):
    def __init__(self) -> None:
        super().__init__(NAME)
        self.ready = True

    def preprocess(self, payload: InferRequest, headers=None) -> InferRequest:
        texts = [clean_text(text) for text in payload.inputs[0].data]
        return InferRequest(NAME, [InferInput("text", [len(texts)], "BYTES", texts)], request_id=payload.id)


def main() -> None:
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("role", choices=["predictor", "transformer"])
    parser.add_argument("--model-dir")
    args = parser.parse_args()
    model = PlainPredictor(args.model_dir) if args.role == "predictor" else PlainTransformer()
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False).start([model])


if __name__ == "__main__":
    sys.exit(main())
