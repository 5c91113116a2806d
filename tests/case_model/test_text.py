"""The text steps on the inputs that break naive cleaners."""

from __future__ import annotations

import pytest

from case_model import prepare
from case_model.text import cap_length, clean_text, normalize_unicode, strip_html, strip_quoted


def test_html_is_reduced_to_visible_text():
    raw = "<html><head><style>p{color:red}</style></head><body><p>Fan is <b>loud</b></p><script>x()</script>"
    assert clean_text(raw) == "Fan is loud"


def test_html_entities_decode_before_pii_masking():
    assert "[EMAIL]" in clean_text("<p>write to john&#64;example.com please</p>")


def test_plain_text_with_angle_brackets_is_not_treated_as_html():
    assert strip_html("temperature < 40 and fan > 2000 rpm") == "temperature < 40 and fan > 2000 rpm"


def test_latest_message_kept_and_nested_replies_dropped():
    raw = (
        "The battery does not charge any more.\n\n"
        "On Mon, 3 Mar 2025 at 10:12, Support <support@example.com> wrote:\n"
        "> Did you try another adapter?\n"
        ">> On Sun, Anna wrote:\n>> my screen flickers\n"
    )
    assert clean_text(raw) == "The battery does not charge any more."


def test_original_message_separator_cuts_the_thread():
    raw = "Still broken after the update.\n-----Original Message-----\nFrom: a@b.com\nSent: Monday\nold text"
    assert clean_text(raw) == "Still broken after the update."


def test_bare_forward_keeps_the_forwarded_body():
    raw = "---------- Forwarded message ---------\nFrom: Anna <anna@x.com>\nSubject: help\n\nThe keyboard is dead."
    assert clean_text(raw) == "The keyboard is dead."


@pytest.mark.parametrize(
    "raw",
    [
        "The dock fails.\n\nBest regards,\nAnna Schmidt\nAcme Corp\nPhone: +49 170 1234567",
        "The dock fails.\n-- \nAnna Schmidt | Acme",
        "The dock fails.\n\nSent from my iPhone",
        "The dock fails.\n\nMit freundlichen Grüßen\nAnna",
    ],
)
def test_signatures_are_dropped(raw):
    assert clean_text(raw) == "The dock fails."


def test_thanks_in_the_middle_of_a_long_message_is_not_a_signature():
    body = "\n".join(f"line {i} with the details of the problem" for i in range(10))
    raw = f"Thanks,\n{body}"
    assert "line 9" in clean_text(raw)


def test_unicode_is_nfkc_normalised_and_invisible_characters_dropped():
    raw = "ｆａｎ\u200b is lo\u200dud\u202e and\x07 hot\ufeff"
    assert normalize_unicode(raw) == "fan is loud and hot"


def test_whitespace_is_collapsed():
    assert clean_text("  fan \t\t is\n\n\n loud  ") == "fan is loud"


def test_length_cap_is_deterministic_and_cuts_at_a_word_boundary():
    raw = "word " * 300_000  # 1.5 MB
    first = cap_length(clean_text(raw, max_chars=1000), 1000)
    assert first == clean_text(raw, max_chars=1000)
    assert len(first) <= 1000
    assert first.endswith("word")


def test_empty_and_whitespace_only_give_empty_text():
    assert clean_text("") == ""
    assert clean_text(" \n\t\u200b ") == ""


def test_quoted_only_case_is_empty():
    assert strip_quoted("> old\n> older").strip() == ""


def test_a_lone_surrogate_is_replaced_not_fatal():
    # Only a Python caller can pass one (JSON and UTF-8 cannot carry it); RE2 and the stores
    # encode to UTF-8 and would fail on it.
    prepared = prepare("My laptop \ud800 does not boot after the update \U0001f600")
    assert prepared.text == "My laptop \ufffd does not boot after the update \U0001f600"
    prepared.text.encode("utf-8")
