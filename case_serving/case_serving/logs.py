"""JSON log lines carrying the request id of the request being served.

The transformer takes the CRM's ``x-request-id`` (or makes one) and passes it to the predictor and
the language service, so one case's path can be followed across the three services' logs. Case
texts are never put into log records by our code; they hold customer data.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid

REQUEST_ID_HEADER = "x-request-id"
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def new_request_id() -> str:
    """A fresh request id for a request that came without one."""
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(service: str, level: str = "INFO", access_log: bool = True) -> None:
    """Send every logger's records to stdout as JSON lines (uvicorn's and KServe's included).

    ``access_log=False`` silences Uvicorn's line per request (7% of the transformer's CPU under
    load, py-spy); the request log then belongs to the platform (Knative's queue-proxy).
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in (
        "kserve",
        "kserve.trace",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "tornado.access",
        "tornado.application",
        "tornado.general",
    ):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # KServe's per-request timing lines (two or three per request) cost more CPU than our text
    # steps under load and repeat what the Prometheus histograms hold; DEBUG shows them.
    logging.getLogger("kserve.trace").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    if not access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
