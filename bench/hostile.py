"""``python -m bench.hostile``: the costliest hostile text at the raw bound against plain text.

Every family of hostile texts (``dev/adversarial.py``) at the most a raw case may hold
(32,000 characters), through the text steps and the filter verdict, against plain prose of the
same length, in this one run. The linear-time guard in the tests checks growth; this says how
much a hostile case costs next to an ordinary one.
"""

from __future__ import annotations

from case_model import prepare
from case_model.text import DEFAULT_MAX_CHARS, RAW_CHARS_PER_CAP
from dev.adversarial import costs_at

RAW_BOUND = RAW_CHARS_PER_CAP * DEFAULT_MAX_CHARS


def measure() -> dict[str, object]:
    """Milliseconds per text at the raw bound: the worst family, plain prose, and every family."""
    return costs_at(prepare, RAW_BOUND)


def report(result: dict[str, object]) -> None:
    """One table row: worst against plain."""
    print(f"\n| text of {result['chars']:,} chars through the text steps | ms | vs plain prose |")
    print("|---|---|---|")
    print(f"| plain prose | {result['plain_ms']:.1f} | 1.0x |")
    ratio = float(result["worst_ms"]) / float(result["plain_ms"])
    print(f"| worst hostile family: {result['worst_family']} | {result['worst_ms']:.1f} | {ratio:.1f}x |")


if __name__ == "__main__":
    report(measure())
