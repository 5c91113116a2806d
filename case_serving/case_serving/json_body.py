"""A request's JSON body, read one way by every service, with one wording when it is not JSON.

Every service takes a JSON object as its body (a V2 request, a batch of texts, of events, of
corrections); each refuses a body that is not one with its own refusal class (KServe's
``InvalidInput`` for the V2 routes, :class:`case_serving.refusals.Invalid` elsewhere), so the
class is the caller's and the decoding and the message are this module's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from case_serving.refusals import Invalid


def json_object(
    raw: bytes | str, refuse: Callable[[str], Exception] = Invalid, expected: str = "a JSON object"
) -> dict[str, Any]:
    """The body as a dict.

    Raises:
        what ``refuse`` makes: the body is not JSON, or not a JSON object (``expected`` says which
        object, in the message).
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise refuse(f"invalid request: body is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise refuse(f"invalid request: body must be {expected}")
    return document
