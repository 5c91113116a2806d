"""``make run``: install the demo model wheel if needed, start the stack, stop it on Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from case_model import MODEL_NAME
from dev.install import ensure_model_installed
from dev.processes import PortTakenError, StartupError, start
from dev.stack import DEPLOYED_HOP, Ports, Stack
from dev.tokens import write_token

#: The embedded default: a SQLite file under data/ (FEEDBACK_STORE_URL names another store).
DEFAULT_STORE = "sqlite:///data/feedback.sqlite"


def renew_service_token(path: Path, lifetime_seconds: float = 4 * 3600) -> None:
    """Write the transformer's service token now, and again every quarter of its lifetime."""
    write_token(path, ["service"], "transformer-local", lifetime_seconds)

    def renew() -> None:
        while True:
            time.sleep(lifetime_seconds / 4)
            write_token(path, ["service"], "transformer-local", lifetime_seconds)

    threading.Thread(target=renew, name="service-token", daemon=True).start()


def main() -> int:
    """Run until interrupted."""
    # The services verify the model wheel with this key (the Makefile sets the same default).
    development_key = Path(__file__).resolve().parents[1] / ".keys" / "model-signing.pub"
    os.environ.setdefault("MODEL_SIGNING_PUBLIC_KEY", str(development_key))
    version = ensure_model_installed()
    log_dir = Path(tempfile.mkdtemp(prefix="case-classifier-logs-"))
    # The transformer's prediction log authenticates as a service, as with a projected token on
    # the cluster: a token file, written again before it expires.
    token_file = log_dir / "service-token"
    renew_service_token(token_file)
    stack = Stack(
        ports=Ports.from_env(),
        feedback_store=os.environ.get("FEEDBACK_STORE_URL", DEFAULT_STORE),
        predictor_protocol=DEPLOYED_HOP,
        service_token_file=str(token_file),
    )
    running = []
    try:
        for service in stack.services():
            print(f"starting {service.name} ...", flush=True)
            running.append(start(service, log_dir))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, PortTakenError):  # the ports here are fixed: no other one is tried
            print(
                "a port of the stack is taken: stop what holds it, or choose others with HTTP_PORT, GRPC_PORT, "
                "LANGUAGE_PORT, FEEDBACK_PORT, PREDICTOR_HTTP_PORT, PREDICTOR_GRPC_PORT",
                file=sys.stderr,
            )
        for process in reversed(running):
            process.stop()
        return 1
    ports = stack.ports
    infer = stack.url(ports.http, f"/v2/models/{MODEL_NAME}/infer")
    print(
        f"""
case-classifier {version} is up (logs in {log_dir})
  transformer  V2 REST  {stack.url(ports.http)}   gRPC 127.0.0.1:{ports.grpc}
  predictor    V2 REST  {stack.url(ports.predictor_http)}   gRPC 127.0.0.1:{ports.predictor_grpc}
  language     {stack.url(ports.language, "/v1/detect")}
  feedback     {stack.url(ports.feedback)}   (corrections, quality; store {stack.feedback_store})
  metrics      {stack.url(ports.http, "/metrics")}

try (authentication is on: make token signs a one-hour token of the development issuer):
  curl -s -H "Authorization: Bearer $(make -s token ROLE=crm SUBJECT=crm-1)" \
    -H 'Content-Type: application/json' {infer} -d '{{"id": "demo-1",
    "inputs": [{{"name": "text", "datatype": "BYTES", "shape": [2],
                "data": ["My laptop battery does not charge any more.", "Automatic reply: out of office"]}},
               {{"name": "case_id", "datatype": "BYTES", "shape": [2], "data": ["C-1", "C-2"]}}]}}'
  curl -s -H 'Content-Type: application/json' {stack.url(ports.feedback, "/v1/corrections")} \\
    -d '{{"corrections": [{{"case_id": "C-1", "label": "battery_power", "agent_id": "a-17"}}]}}'

Ctrl-C stops everything.""",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        for process in running:
            if process.process.poll() is not None:
                print(f"{process.service.name} exited unexpectedly:\n{process.log_tail()}", file=sys.stderr)
                stop.set()
    print("stopping ...", flush=True)
    for process in reversed(running):
        process.stop()
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
