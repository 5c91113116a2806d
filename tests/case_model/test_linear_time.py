"""The guard against hostile texts: every step applied to case text takes time linear in its length.

For each family of adversarial texts (``tests/support/adversarial.py``) and each step that reads
case text, the cost per character is measured at 1k, 4k, 16k and 32k characters (32k is the most
a raw case may hold, ``RAW_CHARS_PER_CAP`` times the cap) in the same run. Linear time keeps that
cost flat; a quadratic step multiplies it by 8 from 4k to 32k, an exponential one by far more.
No absolute time is asserted: only the ratio, which the shared machine's speed does not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from case_model import has_real_words, prepare
from case_model.classifier import build_pipeline
from case_model.text import DEFAULT_MAX_CHARS, RAW_CHARS_PER_CAP
from dev.adversarial import FAMILIES, PROSE, costs_at

SIZES = (1_000, 4_000, 16_000, 32_000)
#: Largest allowed growth of the cost per character from the cheaper of 1k and 4k to 32k. Linear
#: work stays near 1 (fixed costs make small texts dearer per character, which only helps);
#: quadratic work reaches 8 to 32.
MAX_GROWTH = 3.0
#: Each measurement repeats the step until this much time has passed, and keeps the best of three.
MEASURE_SECONDS = 0.005


def _model_tokenizers() -> Callable[[str], object]:
    """The classifier's own analyzers (word and character n-grams), as the predictor runs them."""
    analyzers = [
        transformer.build_analyzer() for _, transformer in build_pipeline().named_steps["features"].transformer_list
    ]
    return lambda text: [analyze(text) for analyze in analyzers]


STEPS: dict[str, Callable[[str], object]] = {
    "text steps and verdict": prepare,
    "language gate": has_real_words,
    "model tokenizers": _model_tokenizers(),
}


def cost_per_char(step: Callable[[str], object], text: str) -> float:
    """Seconds per character of ``step(text)``, the best of three batches of repeated calls."""
    best = float("inf")
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while True:
            step(text)
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= MEASURE_SECONDS:
                break
        best = min(best, elapsed / calls)
    return best / len(text)


def growth(step: Callable[[str], object], build: Callable[[int], str]) -> tuple[float, list[float]]:
    """Cost per character at 32k over the cheaper of 1k and 4k, and the four costs (µs/char)."""
    costs = [cost_per_char(step, build(n)) for n in SIZES]
    return costs[-1] / min(costs[:2]), [cost * 1e6 for cost in costs]


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_step_is_linear_in_the_text(family, reliability):
    build = FAMILIES[family]
    assert all(len(build(n)) == n for n in SIZES)
    for name, step in STEPS.items():
        ratio, costs = growth(step, build)
        if ratio > MAX_GROWTH:  # one retry: a burst of load on the shared machine can hit one size
            ratio, costs = growth(step, build)
        assert ratio <= MAX_GROWTH, f"{name} on {family!r}: cost per char {costs} µs grew {ratio:.1f}x"
    reliability.record(
        "Odd texts",
        "adversarial text families at 1k-32k chars through text steps, language gate, tokenizers",
        1,
        f"time linear in the length (cost per char grows at most {MAX_GROWTH:.0f}x from 1k/4k to 32k)",
    )


def test_the_guard_would_catch_a_quadratic_step():
    """The measurement itself: a step that rescans the text once per character must fail it."""

    def quadratic(text: str) -> int:
        return sum(text.count("a", i) for i in range(0, len(text), 16))

    ratio, _ = growth(quadratic, PROSE)
    assert ratio > MAX_GROWTH


@pytest.mark.slow
def test_the_cost_of_the_worst_hostile_text_is_reported(reliability):
    """Not a bound (the guard above is): the figure the README's table shows, from this run."""
    costs = costs_at(prepare, RAW_CHARS_PER_CAP * DEFAULT_MAX_CHARS)
    assert set(costs["families_ms"]) == set(FAMILIES)
    reliability.record(
        "Odd texts",
        f"worst hostile text at the raw bound ({costs['chars']:,} chars) through the text steps",
        1,
        f"{costs['worst_ms']:.0f} ms ({costs['worst_family']}); "
        f"plain prose of the same length {costs['plain_ms']:.0f} ms",
    )
