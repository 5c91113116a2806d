"""The alternatives a team would otherwise pick, serving the same model file; for comparison only.

- Seldon MLServer with its scikit-learn runtime (``mlserver_sklearn.SKLearnModel``), in a
  virtualenv of its own (``MLSERVER_VENV``, made by ``make bench``): MLServer 1.7 pins a FastAPI
  older than KServe's. ``parallel_workers`` is 0 (inference on the server's own loop): its worker
  pool dies at start-up on this Python ("There is no current event loop"), which we saw here. It
  answers the ``predict`` output for cleaned texts, the job of our predictor. Twice: as it comes
  (no batching), and at its best for this load, with its adaptive batching on: MLServer's docs say
  the two settings are found by experiment, and ``python -m bench.mlserver_tuning`` is that
  experiment (``BEST_BATCHING`` holds what it found; the date and figures are beside it).
- FastAPI under Gunicorn with two Uvicorn workers (``bench/fastapi_app.py``): the whole job per
  request in each worker, the design this service replaces.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from dev.processes import LOOPBACK, RunningService, Service, start_on_ports

MLSERVER_VENV = Path(__file__).resolve().parents[1] / ".venv-mlserver"
NAME = "case-classifier"


#: MLServer's adaptive batching at its best for this load (max_batch_size, max_batch_time in
#: seconds), found by ``python -m bench.mlserver_tuning``; see docs/benchmarks.md for the run.
BEST_BATCHING = (32, 0.002)


#: Starts a setup into a log directory (on ports it holds, again on others if one was taken
#: meanwhile); returns the running service and its base URL.
Starter = Callable[[Path], tuple[RunningService, str]]


def mlserver(model_dir: str, workdir: Path, batching: tuple[int, float] | None = None) -> Starter | None:
    """Starts MLServer serving ``model_dir/model.joblib``; None if it is not installed.

    Args:
        batching: ``(max_batch_size, max_batch_time)`` to turn adaptive batching on; None: off.
    """
    executable = MLSERVER_VENV / "bin" / "mlserver"
    if not executable.exists():
        return None
    repository = workdir / ("mlserver" if batching is None else f"mlserver-{batching[0]}-{batching[1]}")
    repository.mkdir(parents=True, exist_ok=True)
    model_settings: dict[str, object] = {
        "name": NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(Path(model_dir) / "model.joblib")},
    }
    if batching is not None:
        model_settings.update(max_batch_size=batching[0], max_batch_time=batching[1])
    (repository / "model-settings.json").write_text(json.dumps(model_settings))

    def service(ports: tuple[int, ...]) -> Service:
        http, grpc, metrics = ports
        settings = {"host": LOOPBACK, "http_port": http, "grpc_port": grpc, "metrics_port": metrics}
        (repository / "settings.json").write_text(json.dumps({**settings, "parallel_workers": 0}))
        url = f"http://{LOOPBACK}:{http}"
        return Service("mlserver", [str(executable), "start", str(repository)], f"{url}/v2/models/{NAME}/ready")

    def started(log_dir: Path) -> tuple[RunningService, str]:
        running, ports = start_on_ports(service, 3, log_dir)
        return running, f"http://{LOOPBACK}:{ports[0]}"

    return started


def fastapi_gunicorn(model_dir: str, workers: int = 2) -> Starter:
    """Starts ``bench/fastapi_app.py`` under Gunicorn with ``workers`` Uvicorn workers."""

    def service(ports: tuple[int, ...]) -> Service:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "uvicorn.workers.UvicornWorker",
            "-w",
            str(workers),
            "-b",
            f"{LOOPBACK}:{ports[0]}",
            "--log-level",
            "warning",
            "bench.fastapi_app:app",
        ]
        ready = f"http://{LOOPBACK}:{ports[0]}/v2/models/{NAME}/ready"
        return Service("fastapi-gunicorn", argv, ready, {"CASE_MODEL_DIR": model_dir})

    def started(log_dir: Path) -> tuple[RunningService, str]:
        running, (port,) = start_on_ports(service, 1, log_dir)
        return running, f"http://{LOOPBACK}:{port}"

    return started
