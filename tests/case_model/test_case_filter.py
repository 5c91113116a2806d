"""Which cases the case filter keeps from the classifier, and the status saying why."""

from __future__ import annotations

import pytest

from case_model import Status, prepare


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("", Status.EMPTY),
        ("   \n\t ", Status.EMPTY),
        ("<html><body></body></html>", Status.EMPTY),
        ("> only a quoted line", Status.EMPTY),
        ("help", Status.TOO_SHORT),
        ("anna@x.com 7XK2M3Q", Status.TOO_SHORT),
        ("Automatic reply: I am out of the office until Monday.", Status.AUTO_REPLY),
        ("Abwesenheitsnotiz: Ich bin derzeit nicht im Büro.", Status.AUTO_REPLY),
        ("Delivery Status Notification (Failure)", Status.AUTO_REPLY),
        ("The fan of my laptop is very loud.", Status.OK),
    ],
)
def test_verdicts(raw, status):
    assert prepare(raw).status is status


def test_out_of_office_deep_in_a_thread_is_not_an_auto_reply():
    raw = "The screen flickers on my XPS.\n" + "details " * 100 + "\nI was out of the office last week."
    assert prepare(raw).status is Status.OK
