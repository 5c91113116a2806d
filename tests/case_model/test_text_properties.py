"""Properties of the text steps over arbitrary unicode (Hypothesis).

The steps never raise, respect the length cap, are idempotent where a second pass must change
nothing, and never let through the PII they mask. Examples Hypothesis once found stay pinned
with ``@example``.
"""

from __future__ import annotations

import string

from hypothesis import example, given
from hypothesis import strategies as st

from case_model.pii import mask_pii
from case_model.text import cap_length, clean_text, collapse_whitespace, normalize_unicode, strip_html
from case_model.verdict import filter_verdict

#: Text as a CRM might pass it on: any unicode, plus the markup and separators the steps look for.
noisy_text = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["<p>", "</div>", "<br>", "&amp;", "&#0;", "> ", "\n", "-- \n", "On Mon, x wrote:", "\u200b"]),
    ),
    max_size=25,
).map("".join)


@given(noisy_text, st.integers(min_value=1, max_value=500))
def test_clean_text_never_raises_and_respects_the_cap(reliability, text, cap):
    cleaned = clean_text(text, cap)
    assert isinstance(cleaned, str)
    assert len(cleaned) <= cap
    assert cleaned == cleaned.strip()
    filter_verdict(text, cleaned)  # the verdict step takes whatever the cleaning gives
    reliability.record(
        "Fuzzing", "arbitrary unicode texts through the text steps (Hypothesis)", 1, "never raise; length cap kept"
    )


@given(noisy_text)
def test_single_steps_are_idempotent(reliability, text):
    for step in (normalize_unicode, collapse_whitespace, mask_pii, lambda t: cap_length(t, 50)):
        once = step(text)
        assert step(once) == once, step
    reliability.record("Fuzzing", "arbitrary unicode texts, each step twice (Hypothesis)", 1, "idempotent")


@given(noisy_text)
def test_html_stripping_gives_text_without_tags_it_parsed(text):
    assert "<br>" not in strip_html("<html>" + text + "</html>")


local_part = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=12).filter(
    lambda s: s[0] not in "._-" and s[-1] not in "._-"
)
domain = st.lists(st.text(string.ascii_lowercase + string.digits, min_size=2, max_size=10), min_size=1, max_size=3)
tld = st.sampled_from(["com", "de", "io"])
emails = st.builds(lambda user, parts, top: f"{user}@{'.'.join(parts)}.{top}", local_part, domain, tld)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
phones = st.builds(
    lambda cc, groups, sep: f"+{cc} " + sep.join(groups),
    st.integers(1, 99),
    # Phone numbers as the masking defines them: 9 digits or more (shorter is an order number).
    st.lists(st.text(string.digits, min_size=3, max_size=4), min_size=3, max_size=4),
    st.sampled_from([" ", "-", "."]),
)
filler = st.text(string.ascii_letters + " ,.!?\n", max_size=60)


@given(filler, st.one_of(emails, ipv4, phones), filler)
@example("reach me at ", "a.b@c1.example.com", " today")
@example("my number is", "+49 170-1234-567", "")
@example("", "+1 000 000 000", "")
def test_masked_pii_never_leaks(reliability, before, secret, after):
    text = f"{before} {secret} {after}"
    assert secret not in mask_pii(text)
    assert secret not in clean_text(text)
    reliability.record(
        "Fuzzing", "e-mails, IPs, phone numbers inside texts (Hypothesis)", 1, "masked: never in the output"
    )
