"""The lean lifecycle runs KServe's stages in order and keeps KServe's stage histograms."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from case_serving.lifecycle import LeanLifecycle


def _count(name: str, model: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count", {"model_name": model}) or 0.0


class Doubling(LeanLifecycle):
    async def preprocess(self, payload, headers=None):
        return [*payload, 1]

    def predict(self, payload, headers=None):  # synchronous: called as KServe calls it
        if payload[0] == "fail":
            raise ValueError("refused")
        return payload * 2

    async def postprocess(self, result, headers=None, response_headers=None):
        return {"answer": result}


def test_stages_run_in_order_and_are_timed():
    model = Doubling("lean-order")
    before = (_count("request_preprocess_seconds", "lean-order"), _count("request_predict_seconds", "lean-order"))
    response, headers = asyncio.run(model([0], headers={}))
    assert response == {"answer": [0, 1, 0, 1]}
    assert headers == {}
    assert _count("request_preprocess_seconds", "lean-order") == before[0] + 1
    assert _count("request_predict_seconds", "lean-order") == before[1] + 1


def test_a_failing_stage_is_still_timed_and_raises():
    model = Doubling("lean-fail")
    with pytest.raises(ValueError, match="refused"):
        asyncio.run(model(["fail"]))
    assert _count("request_predict_seconds", "lean-fail") == 1
    assert _count("request_postprocess_seconds", "lean-fail") == 0


def test_latency_logging_that_is_shown_goes_through_kserve(caplog):
    model = Doubling("lean-trace")
    model.enable_latency_logging = True
    with caplog.at_level(logging.INFO, logger="kserve.trace"):
        response, _ = asyncio.run(model([0], headers={"x-request-id": "r-1"}))
    assert response == {"answer": [0, 1, 0, 1]}
    assert any("requestId: r-1" in record.getMessage() for record in caplog.records)
