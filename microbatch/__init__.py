"""Adaptive micro-batching: concurrent callers share one vectorised call."""

from microbatch.batcher import MicroBatcher

__all__ = ["MicroBatcher"]
