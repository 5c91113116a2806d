"""Which cases are not classified, and why."""

from __future__ import annotations

import pytest

from case_model import Verdict, prepare


@pytest.mark.parametrize(
    ("raw", "verdict"),
    [
        ("", Verdict.EMPTY),
        ("   \n\t ", Verdict.EMPTY),
        ("<html><body></body></html>", Verdict.EMPTY),
        ("> only a quoted line", Verdict.EMPTY),
        ("help", Verdict.TOO_SHORT),
        ("anna@x.com 7XK2M3Q", Verdict.TOO_SHORT),
        ("Automatic reply: I am out of the office until Monday.", Verdict.AUTO_REPLY),
        ("Abwesenheitsnotiz: Ich bin derzeit nicht im Büro.", Verdict.AUTO_REPLY),
        ("Delivery Status Notification (Failure)", Verdict.AUTO_REPLY),
        ("The fan of my laptop is very loud.", Verdict.OK),
    ],
)
def test_verdicts(raw, verdict):
    assert prepare(raw).verdict is verdict


def test_out_of_office_deep_in_a_thread_is_not_an_auto_reply():
    raw = "The screen flickers on my XPS.\n" + "details " * 100 + "\nI was out of the office last week."
    assert prepare(raw).verdict is Verdict.OK
