"""The case filter: whether a case may be classified at all, and if not, why.

Empty cases, one-word cases and automatic replies carry no category; classifying them would put a
confident-looking but meaningless label in front of an agent. They are answered with the reason
instead, by the transformer online and by the batch pipeline offline, from this one function.
"""

from __future__ import annotations

from case_model.patterns import NOT_WORD, SPACE, any_of, compile_pattern
from case_model.status import Status
from case_model.words import TO_CLASSIFY, words

# Markers of automatic replies, standing as words of their own (Unicode-aware boundaries, which
# RE2's ASCII ``\b`` is not).
_S = SPACE
_AUTO_REPLY = compile_pattern(
    f"(?:^|{NOT_WORD})"
    + any_of(
        rf"out{_S}+of{_S}+(?:the{_S}+)?office",
        rf"automatic{_S}+reply",
        "auto[- ]?reply",
        "autoreply",
        "auto[- ]?response",
        rf"delivery{_S}+status{_S}+notification",
        "undeliverable",
        rf"mail{_S}+delivery{_S}+(?:failed|subsystem)",
        rf"i{_S}+am{_S}+(?:currently{_S}+)?(?:away|on{_S}+(?:vacation|leave|holiday))",
        "abwesenheitsnotiz",
        rf"automatische{_S}+antwort",
        rf"bin{_S}+(?:derzeit{_S}+)?nicht{_S}+im{_S}+büro",
        rf"réponse{_S}+automatique",
        rf"absent{_S}+du{_S}+bureau",
        rf"respuesta{_S}+automática",
        rf"fuera{_S}+de{_S}+la{_S}+oficina",
        rf"risposta{_S}+automatica",
        rf"fuori{_S}+ufficio",
        rf"resposta{_S}+automática",
        rf"automatisch{_S}+antwoord",
    )
    + f"(?:$|{NOT_WORD})",
    ignore_case=True,
)
#: Auto-reply markers count only near the top, where mail systems put them.
_AUTO_REPLY_WINDOW = 400


def filter_status(raw: str, cleaned: str) -> Status:
    """Decide whether a case can be classified.

    Args:
        raw: The case log as received (auto-reply markers are looked for at its top).
        cleaned: The same case after :func:`case_model.text.clean_text`.

    Returns:
        ``Status.OK`` or the reason the case is not classified.
    """
    if not cleaned:
        return Status.EMPTY
    if _AUTO_REPLY.search(raw[:_AUTO_REPLY_WINDOW]):
        return Status.AUTO_REPLY
    if not TO_CLASSIFY.met_by(words(cleaned)):
        return Status.TOO_SHORT
    return Status.OK
