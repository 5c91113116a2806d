"""What the text steps must keep doing whatever engine runs their patterns.

Pinned before the patterns moved to a linear-time engine: each case is a behaviour the model's
training data and the CRM's answers depend on (what is stripped, what is kept, which line starts a
quoted reply or a signature, what counts as a word).
"""

from __future__ import annotations

import pytest

from case_model import has_real_words, prepare
from case_model.text import clean_text, strip_html, strip_quoted


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("<p>Fan is <b>loud</b></p>", "\nFan is loud\n"),
        ("<div>one</div><div>two</div>", "\none\n\ntwo\n"),
        ("line<br>next<br/>last", "line\nnext\n\nlast"),
        ("<ul><li>a</li><li>b</li></ul>", "\n\na\n\nb\n\n"),
        ("<html><head><title>t</title></head><body>text</body></html>", "text"),
        ("<style>p{color:red}</style>kept<script>if (a < b) x()</script>", "kept"),
        ("<!-- a comment --><b>visible</b>", "visible"),
        ("<!DOCTYPE html><p>x</p>", "\nx\n"),
        ("<a href='http://x.y/?a=1&amp;b=2'>link</a> text", "link text"),
        ("caf&eacute; &lt;ok&gt; &#64; &#x41;", "café <ok> @ A"),
        ("<P CLASS=x>upper</P>", "\nupper\n"),
        ("<span\nclass='x'>multi-line tag</span>", "multi-line tag"),
        ("<p>From John</p> <john.miller@example.com>", "\nFrom John\n <john.miller@example.com>"),
        ("<o:p>Outlook</o:p><x-custom a=1>el</x-custom>", "Outlookel"),
    ],
)
def test_html_is_reduced_to_its_visible_text(raw, visible):
    assert strip_html(raw) == visible


@pytest.mark.parametrize(
    "plain",
    [
        "temperature < 40 and fan > 2000 rpm",
        "3 < 5",
        "R&D team",
        "<<<>>>",
    ],
)
def test_plain_text_with_markup_characters_passes_through(plain):
    assert strip_html(plain) == plain


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Fan broken.\nOn Mon, 3 Mar 2025 at 10:12, Support <s@x.com> wrote:\nold", "Fan broken."),
        ("Fan broken.\nAm 03.03.2025 um 10:12 schrieb Support <s@x.com>:\nalt", "Fan broken."),
        ("Fan broken.\nLe 3 mars 2025 à 10:12, Support a écrit :\nvieux", "Fan broken."),
        ("Fan broken.\nEl 3 mar 2025, Soporte escribió:\nviejo", "Fan broken."),
        ("Fan broken.\n-----Original Message-----\nold", "Fan broken."),
        ("Fan broken.\n----- Ursprüngliche Nachricht -----\nalt", "Fan broken."),
        ("Fan broken.\n-------- Message d'origine --------\nvieux", "Fan broken."),
        ("Fan broken.\n--- Mensaje original ---\nviejo", "Fan broken."),
        ("Fan broken.\nBegin forwarded message:\nold", "Fan broken."),
        ("Fan broken.\nFrom: Support <s@x.com>\nold", "Fan broken."),
        ("Fan broken.\nVon: [EMAIL]\nalt", "Fan broken."),
        ("Fan broken.\n> quoted\n>> older", "Fan broken."),
        ("Fan broken.\n-- \nAnna", "Fan broken."),
        ("Fan broken.\n_____\nfooter", "Fan broken."),
        ("Fan broken.\n\nKind regards,\nAnna\nAcme", "Fan broken."),
        ("Fan broken.\n\nThanks in advance!\nAnna", "Fan broken."),
        ("Fan broken.\n\nViele Grüße\nAnna", "Fan broken."),
        ("Fan broken.\n\nCordialement,\nAnna", "Fan broken."),
        ("Fan broken.\n\nSaludos cordiales\nAna", "Fan broken."),
        ("Fan broken.\n\nSent from my Galaxy S23", "Fan broken."),
        ("Fan broken.\nFrom the start it was loud", "Fan broken.\nFrom the start it was loud"),
        ("Regards to the team, the fan is broken", "Regards to the team, the fan is broken"),
    ],
)
def test_replies_and_signatures(raw, kept):
    assert strip_quoted(raw).strip() == kept


def test_a_sign_off_followed_by_a_long_tail_is_not_a_signature():
    tail = "\n".join(["short line"] * 7)
    assert "short line" in strip_quoted(f"Fan broken.\nThanks\n{tail}")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Ｆａｎ　ｉｓ　ｌｏｕｄ", "Fan is loud"),
        ("＜ｐ＞full-width markup＜／ｐ＞", "full-width markup"),
        ("tab\tand\r\nnewline", "tab and newline"),
        ("ﬁle ligature", "file ligature"),
        ("bidi\u202eoverride\u202c gone", "bidioverride gone"),
        ("nbsp\u00a0space", "nbsp space"),
    ],
)
def test_unicode_forms_are_folded(raw, cleaned):
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    ("text", "real"),
    [
        ("the fan is loud", True),
        ("Der Lüfter ist laut", True),
        ("0x0000007B 7XK2M3Q https://x.example/a", False),
        ("[EMAIL] [PHONE] [SERIAL]", False),
        ("ab cd", False),  # two words but fewer than eight letters
        ("abcd efgh", True),
        ("fan2 loud3 broken4", False),  # words glued to digits are not words
        ("www.example.com/path fan", False),
    ],
)
def test_what_counts_as_real_words(text, real):
    assert has_real_words(text) is real


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Fan broken, help.", "ok"),
        ("fan loud", "too_short"),
        ("My fan [EMAIL] [PHONE]", "too_short"),
        ("abc def ghi", "too_short"),  # three words, nine letters: under the 12-letter floor
        ("abcd efgh ijkl", "ok"),
        ("Réponse automatique : je suis absent du bureau", "auto_reply"),
        ("Respuesta automática: fuera de la oficina", "auto_reply"),
        ("Risposta automatica: sono fuori ufficio", "auto_reply"),
        ("Out of Office: back Monday, the printer is broken", "auto_reply"),
        ("I am currently on vacation until Monday", "auto_reply"),
    ],
)
def test_status_rules(raw, status):
    assert prepare(raw).status.value == status
