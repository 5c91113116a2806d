"""How long the identifiers a caller sends may be, the same in every service.

A request id is copied into every log line of its request and a case id is echoed back and
stored, so both are bounded before they are used, and a case id the store could not keep is
refused where it arrives (the transformer), not where it would be stored: by then the CRM has its
answer and the event would be lost. This module imports nothing: the V2 services
check them in :mod:`case_serving.limits` and the feedback API in its contract, and the feedback
service carries no KServe.
"""

from __future__ import annotations

#: Longest request id accepted (body ``id``, ``x-request-id`` header, gRPC ``id``): it is copied
#: into every log line of the request. UUIDs and the ids of common tracing systems fit easily.
MAX_REQUEST_ID_CHARS = 128
#: Longest ``case_id`` accepted: CRM case ids are short; it is echoed back and stored.
MAX_CASE_ID_CHARS = 256


def unstorable(value: str) -> str | None:
    """Why no store can keep ``value`` (a NUL: PostgreSQL's text cannot hold it; a lone surrogate:
    not Unicode, UTF-8 cannot encode it), or None when it can be kept."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate)"
    return None
