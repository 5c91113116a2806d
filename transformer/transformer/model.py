"""The transformer's KServe ``Model``: preprocess -> predict (the predictor hop) -> postprocess.

``preprocess`` cleans and filters the cases and detects their languages, producing a
:class:`transformer.cases.Plan`; ``predict`` sends only the classifiable cases to the predictor
(or nothing at all); ``postprocess`` merges the answers back in the original order.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import grpc
import httpx
from kserve.constants.constants import PredictorProtocol
from kserve.errors import ServerNotReady
from kserve.protocol.infer_type import InferRequest, InferResponse

from case_feedback.prediction_log import PredictionLog
from case_language.client import LanguageDetection
from case_serving import schema, warmup
from case_serving.batching import MicroBatcher
from case_serving.lifecycle import LeanLifecycle
from case_serving.limits import RequestLimits
from case_serving.logs import REQUEST_ID_HEADER, new_request_id, request_id
from transformer import metrics
from transformer.cases import (
    Answers,
    Plan,
    apply_languages,
    apply_predictions,
    decode_answers,
    plan_request,
    prediction_events,
    predictor_request,
    response_for,
    text_chars,
)
from transformer.predictor_hop import PredictorStatusError, RestPredictor
from transformer.settings import TransformerSettings

log = logging.getLogger("transformer")
#: Requests with more text than this are cleaned in a worker thread: the text steps cost about
#: 0.2 ms per 1,000 characters, and on the event loop a big batch (256 cases of 4,000 characters:
#: ~200 ms) would stall every other request in flight. Below it a thread hop costs more than it saves.
INLINE_TEXT_CHARS = 20_000


class PredictorUnavailable(ServerNotReady):
    """The predictor cannot be reached or is failing; answered 503 (REST) / UNAVAILABLE (gRPC)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"predictor unavailable: {detail}")
        self.reason = str(self)


class VersionMismatch(PredictorUnavailable):
    """The predictor answered with another model version than these text steps'; never merged.

    The rollout keeps a request inside one version (``case_rollout.release``); this is the second
    guard, for a hop wired to the wrong predictor: its answer is refused (503), not served.
    """

    def __init__(self, steps: str, predictor: str | None) -> None:
        super().__init__(
            f"the predictor serves model version {predictor or 'unknown'}, these text steps are version {steps}; "
            "an answer across versions is refused"
        )


class CaseTransformer(LeanLifecycle):
    """Filters, cleans and routes cases; classifies the rest through the predictor."""

    def __init__(
        self,
        name: str,
        settings: TransformerSettings,
        language: LanguageDetection,
        model_version: str | None,
        prediction_log: PredictionLog | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.request_limits = RequestLimits(
            schema.names(schema.TRANSFORMER_INPUTS), settings.max_batch_cases, schema.names(schema.TRANSFORMER_OUTPUTS)
        )
        self.language = language
        #: The installed wheel's version: the version of these text steps, which the predictor's
        #: answers must carry. None when run from a source tree (development): then the
        #: predictor's version is reported as is.
        self.steps_version = model_version
        self.model_version = model_version
        self.prediction_log = prediction_log
        self.rules = settings.status_rules()
        self._rest: RestPredictor | None = None
        # Concurrent requests share one predictor call: the hop is paid once per batch.
        self._batcher: MicroBatcher[tuple[str, str], Answers] = MicroBatcher(
            self._classify_batch, settings.batch_max_size, settings.batch_max_wait_ms / 1000
        )
        self.ready = True

    @property
    def version(self) -> str | None:
        """The model version answering: the installed wheel's, or the predictor's latest answer's."""
        return self.model_version

    def get_input_types(self) -> list[dict[str, object]]:
        """V2 model metadata: inputs."""
        return schema.TRANSFORMER_INPUTS

    def get_output_types(self) -> list[dict[str, object]]:
        """V2 model metadata: outputs."""
        return schema.TRANSFORMER_OUTPUTS

    async def preprocess(self, payload: InferRequest, headers: dict[str, str] | None = None) -> Plan:
        """Decode, clean, filter, detect languages; nothing here calls the predictor."""
        started = time.perf_counter()
        rid = (headers or {}).get(REQUEST_ID_HEADER) or payload.id or new_request_id()
        request_id.set(rid)
        if not payload.id:
            payload.id = rid
        limits = (self.request_limits, self.settings.max_text_chars)
        if text_chars(payload) > INLINE_TEXT_CHARS:  # long texts or big batches: off the event loop
            plan = await asyncio.to_thread(plan_request, payload, *limits)
        else:
            plan = plan_request(payload, *limits)
        plan.started = started
        candidates = plan.classifiable
        if candidates:
            languages = await self.language.detect(plan.flow.texts_of(candidates))
            apply_languages(plan, candidates, languages, self.rules)
        if self.settings.log_texts:
            log.info("cases", extra={"texts": plan.texts})
        return plan

    def validate(self, payload: Plan) -> Plan:
        """The plan is ours and already validated; KServe's dict checks do not apply."""
        return payload

    async def predict(self, plan: Plan, headers: dict[str, str] | None = None) -> Plan:
        """Classify the plan's classifiable cases (none: no predictor call at all)."""
        classifiable = plan.classifiable
        if not classifiable:
            metrics.CALLS["skipped"].inc()
            return plan
        texts = plan.flow.texts_of(classifiable)
        if plan.explain:  # rare, and the predictor explains per request: not batched
            answers, part = await self._call_predictor(texts, request_id.get(), explain=True), slice(0, len(texts))
        else:
            answers, part = await self._batcher.submit([(text, request_id.get()) for text in texts])
        apply_predictions(plan, answers, part, self.rules)
        if plan.model_version and plan.model_version != self.model_version:
            self.model_version = plan.model_version  # answers fully filtered requests too
            metrics.MODEL_INFO.labels(plan.model_version).set(1)
        return plan

    async def _classify_batch(self, items: list[tuple[str, str]]) -> Answers:
        # The batch travels under the request id of its first case; each request logs its own.
        return await self._call_predictor([text for text, _ in items], items[0][1], explain=False)

    def _rest_hop(self) -> RestPredictor | None:
        """The REST client of the predictor hop, made on first use; None over gRPC (KServe's client),
        or when no predictor is configured (a test's double stands in ``super().predict``)."""
        if self._rest is None:
            config = self.predictor_config
            if config is None or not config.predictor_host or config.protocol == PredictorProtocol.GRPC_V2.value:
                return None
            url = f"{config.predictor_base_url}/v2/models/{self.name}/infer"
            self._rest = RestPredictor(url, config.predictor_request_timeout_seconds, config.predictor_request_retries)
        return self._rest

    async def close(self) -> None:
        """Close the predictor hop's session (at shutdown)."""
        if self._rest is not None:
            await self._rest.close()

    async def _call_predictor(self, texts: list[str], rid: str, explain: bool) -> Answers:
        request = predictor_request(texts, self.name, rid, explain)
        rest = self._rest_hop()
        try:
            if rest is not None:
                response = await rest.infer(request, rid)
            else:
                response = await super().predict(request, {REQUEST_ID_HEADER: rid})
        except (aiohttp.ClientError, TimeoutError, httpx.TransportError, grpc.aio.AioRpcError, OSError) as error:
            metrics.CALLS["unavailable"].inc()
            raise PredictorUnavailable(_describe(error)) from error
        except PredictorStatusError as error:
            metrics.CALLS["error"].inc()
            raise PredictorUnavailable(str(error)) from error
        except httpx.HTTPStatusError as error:
            metrics.CALLS["error"].inc()
            raise PredictorUnavailable(f"HTTP {error.response.status_code} from the predictor") from error
        except ValueError as error:  # a 200 that is no V2 answer
            metrics.CALLS["error"].inc()
            raise PredictorUnavailable(f"unusable answer from the predictor: {error}") from error
        try:
            answers = decode_answers(response, len(texts))
        except ValueError as error:  # an answer that cannot be merged is the predictor's fault, not the caller's
            metrics.CALLS["error"].inc()
            raise PredictorUnavailable(f"unusable answer from the predictor: {error}") from error
        if self.steps_version and answers.model_version != self.steps_version:
            metrics.CALLS["version_mismatch"].inc()
            log.error("version mismatch", extra={"steps": self.steps_version, "predictor": answers.model_version})
            raise VersionMismatch(self.steps_version, answers.model_version)
        metrics.CALLS["ok"].inc()
        return answers

    async def postprocess(
        self, plan: Plan, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> InferResponse:
        """Merge every case back in order, count what was answered, and hand the answered cases to
        the prediction log (which only buffers them: the answer does not wait for the store).
        Warm-up requests are the service's own and are not logged."""
        response = response_for(plan, self.name, self.model_version)
        own = plan.request_id == warmup.REQUEST_ID
        if self.prediction_log is not None and not own:
            self.prediction_log.record(prediction_events(plan, self.model_version, time.time()))
        if not own:
            metrics.ANSWER_SECONDS.observe(time.perf_counter() - plan.started)
        metrics.count_answers(plan.statuses, plan.languages, plan.labels, response.model_version or "")
        return response


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"gRPC {error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
