"""The predictor's KServe ``Model``: load (verified) and predict, nothing else.

The texts it receives were cleaned by the transformer with the same wheel's text steps; it only
caps their length, so a direct caller cannot make it score a megabyte.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kserve.errors import ModelNotReady
from kserve.protocol.infer_type import InferRequest, InferResponse

from case_model import CaseClassifier, Predictions, load
from case_model.text import cap_length
from case_serving import schema
from case_serving.batching import MicroBatcher
from case_serving.lifecycle import LeanLifecycle
from case_serving.limits import RequestLimits
from case_serving.logs import REQUEST_ID_HEADER, request_id
from case_serving.tensors import bytes_output, fp32_output, named_inputs, top_k_outputs, wants_explanation
from case_signing import verify_directory
from predictor import metrics
from predictor.settings import PredictorSettings

log = logging.getLogger("predictor")
#: Most characters of a batch predicted on the event loop (about 1 ms of it); see ``_predict_batch``.
INLINE_PREDICT_CHARS = 4_000


class CaseClassifierModel(LeanLifecycle):
    """Classifies a batch of cleaned case texts in one vectorised call."""

    def __init__(self, name: str, settings: PredictorSettings) -> None:
        super().__init__(name)
        self.settings = settings
        self.request_limits = RequestLimits(
            schema.names(schema.PREDICTOR_INPUTS), settings.max_batch_cases, schema.names(schema.PREDICTOR_OUTPUTS)
        )
        self.classifier: CaseClassifier | None = None
        # One thread: batches run one after the other, while the loop parses the next requests.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._batcher: MicroBatcher[str, Predictions] = MicroBatcher(
            self._predict_batch, settings.batch_max_size, settings.batch_max_wait_ms / 1000
        )

    def load(self) -> bool:
        """Check the artifact's signature, read it (plain data), then warm up; ready only after all three.

        Raises:
            case_signing.ProvenanceError: the artifact is unsigned or not signed by the release key.
            case_model.ArtifactError: its files do not match its metadata, or are malformed.
        """
        # The bundled artifact was checked with its whole package at start (python -m predictor);
        # an artifact directory given by --model-dir carries a signature of its own.
        directory = Path(self.settings.model_dir) if self.settings.model_dir else None
        if directory is not None:
            verify_directory(directory)
        classifier = load(directory)
        classifier.predict(["warm-up: the first real request must not pay for lazy initialisation"])
        self.classifier = classifier
        metrics.record_training_shares(classifier.metadata.get("label_counts", {}), classifier.version)
        self.ready = True
        log.info("model loaded", extra={"model_version": classifier.version})
        return bool(self.ready)

    def _loaded(self) -> CaseClassifier:
        if self.classifier is None:
            raise ModelNotReady(self.name)
        return self.classifier

    @property
    def version(self) -> str | None:
        """Version of the loaded model (also the wheel's)."""
        return self.classifier.version if self.classifier else None

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The labels the loaded model answers with (its artifact's metadata)."""
        return tuple(str(label) for label in self.classifier.metadata["labels"]) if self.classifier else None

    def get_input_types(self) -> list[dict[str, object]]:
        """V2 model metadata: inputs."""
        return schema.PREDICTOR_INPUTS

    def get_output_types(self) -> list[dict[str, object]]:
        """V2 model metadata: outputs."""
        return schema.PREDICTOR_OUTPUTS

    async def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        """Classify every text of the request; ``explain`` in the parameters adds explanations."""
        request_id.set((headers or {}).get(REQUEST_ID_HEADER) or payload.id or "-")
        texts = named_inputs(payload, self.request_limits)[schema.TEXT]
        texts = [cap_length(text, self.settings.max_text_chars) for text in texts]
        batch, part = await self._batcher.submit(texts)
        labels = batch.labels[part]
        # With the access log on (REST and gRPC), a line per request saying what was answered;
        # never the texts. Off by default, as the access log: the line cost the predictor 5% of
        # its CPU at c=128 (py-spy), and Knative's queue-proxy logs requests.
        if self.settings.access_log:
            log.info("predicted", extra={"cases": len(texts), "model_version": self.version})
        outputs = [
            bytes_output(schema.LABEL, labels),
            fp32_output(schema.CONFIDENCE, batch.confidences[part]),
            *top_k_outputs(
                schema.TOP_LABELS, schema.TOP_PROBABILITIES, batch.top_labels[part], batch.top_probabilities[part]
            ),
        ]
        if wants_explanation(payload):
            explanations = [
                json.dumps(self._loaded().explain(text, label, self.settings.explain_terms))
                for text, label in zip(texts, labels, strict=True)
            ]
            outputs.append(bytes_output(schema.EXPLANATION, explanations))
        return InferResponse(
            response_id=payload.id or "",
            model_name=self.name,
            model_version=self.version,
            infer_outputs=outputs,
            # KServe 0.21's REST client drops model_version when it parses a response; the
            # transformer reads it from here too.
            parameters={schema.MODEL_VERSION_PARAMETER: self.version},
        )

    async def _predict_batch(self, texts: list[str]) -> Predictions:
        classifier = self._loaded()
        # A small batch takes about 0.08 ms a text (one text 0.21 ms, model wheel 1.2.0); handing it
        # to the thread and back cost the predictor 0.14 ms of CPU per call and the chain 0.17 ms of
        # p50 at one request at a time (make bench's chain, 2026-12-04). A large one would stall the
        # loop: it goes to the thread, and so do a few long texts (8 texts of 4,000 characters took
        # 7 ms, 20 ms before the model's faster features).
        small = len(texts) <= self.settings.inline_predict_texts and sum(map(len, texts)) <= INLINE_PREDICT_CHARS
        if not self.settings.predict_in_thread or small:
            return classifier.predict(texts)
        return await asyncio.get_running_loop().run_in_executor(self._executor, classifier.predict, texts)
