"""KServe's request lifecycle (preprocess, validate, predict, postprocess) without its per-request
overhead.

KServe 0.21's ``Model.__call__`` looks up the model's Prometheus label children three times per
request (``labels(**get_labels(name))``), asks ``inspect.iscoroutinefunction`` of each handler
every time and runs a ``Timer`` context manager and two ``time.time()`` calls per stage: about 5%
of the transformer's CPU under load (py-spy, ``docs/benchmarks.md``). :class:`LeanLifecycle`
runs the same stages in the same order, observes the same histograms
(``request_preprocess_seconds``, ``request_predict_seconds``, ``request_postprocess_seconds``,
also for a stage that raises, as KServe's timers do) through children bound once, and falls back
to KServe's own ``__call__`` for anything else (explain, response headers, and latency logging
when its ``kserve.trace`` lines are shown: KServe enables it by default, and builds the line for
every request even while ``case_serving.logs`` keeps the logger silent).
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from kserve import Model
from kserve.metrics import POST_HIST_TIME, PRE_HIST_TIME, PREDICT_HIST_TIME, get_labels
from kserve.model import InferenceVerb

_TRACE = logging.getLogger("kserve.trace")


class LeanLifecycle(Model):
    """A KServe ``Model`` whose predict calls skip KServe's per-request lookups.

    The handlers a subclass defines (or inherits) are checked once, on the first request; a
    synchronous one is still called as KServe calls it.
    """

    _lean_stages: tuple[Any, Any, Any, bool, bool, bool] | None = None

    def _stages(self) -> tuple[Any, Any, Any, bool, bool, bool]:
        labels = get_labels(self.name)
        stages = (
            PRE_HIST_TIME.labels(**labels),
            PREDICT_HIST_TIME.labels(**labels),
            POST_HIST_TIME.labels(**labels),
            inspect.iscoroutinefunction(self.preprocess),
            inspect.iscoroutinefunction(self.predict),
            inspect.iscoroutinefunction(self.postprocess),
        )
        self._lean_stages = stages
        return stages

    async def __call__(
        self, body: Any, headers: dict[str, str] | None = None, verb: InferenceVerb = InferenceVerb.PREDICT
    ) -> Any:
        """Preprocess, validate, predict, postprocess; returns (response, response headers)."""
        if (
            verb is not InferenceVerb.PREDICT
            or self.required_response_headers
            or (self.enable_latency_logging and _TRACE.isEnabledFor(logging.INFO))
        ):
            return await super().__call__(body, headers, verb)
        pre, predict, post, pre_async, predict_async, post_async = self._lean_stages or self._stages()
        clock = time.perf_counter
        started = clock()
        try:
            payload = await self.preprocess(body, headers) if pre_async else self.preprocess(body, headers)
        finally:
            pre.observe(clock() - started)
        payload = self.validate(payload)
        started = clock()
        try:
            response = await self.predict(payload, headers) if predict_async else self.predict(payload, headers)
        finally:
            predict.observe(clock() - started)
        started = clock()
        try:
            response = await self.postprocess(response, headers) if post_async else self.postprocess(response, headers)
        finally:
            post.observe(clock() - started)
        return response, {}
