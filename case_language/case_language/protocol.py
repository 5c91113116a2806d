"""The language service's HTTP contract, shared by the service and its client.

``POST /v1/detect`` with ``{"texts": [...]}`` answers ``[{"language": "en", "confidence": 0.99}, ...]``
in the same order; ``language`` is an ISO 639-1 code or ``unknown``.
"""

from __future__ import annotations

DETECT_PATH = "/v1/detect"
DEFAULT_PORT = 8082
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}{DETECT_PATH}"
