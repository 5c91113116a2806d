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
from pathlib import Path

from dev.processes import LOOPBACK, Service, free_port

MLSERVER_VENV = Path(__file__).resolve().parents[1] / ".venv-mlserver"
NAME = "case-classifier"


#: MLServer's adaptive batching at its best for this load (max_batch_size, max_batch_time in
#: seconds), found by ``python -m bench.mlserver_tuning``; see docs/benchmarks.md for the run.
BEST_BATCHING = (32, 0.002)


def mlserver(model_dir: str, workdir: Path, batching: tuple[int, float] | None = None) -> tuple[Service, str] | None:
    """MLServer serving ``model_dir/model.joblib``, and its base URL; None if it is not installed.

    Args:
        batching: ``(max_batch_size, max_batch_time)`` to turn adaptive batching on; None: off.
    """
    executable = MLSERVER_VENV / "bin" / "mlserver"
    if not executable.exists():
        return None
    http, grpc, metrics = free_port(), free_port(), free_port()
    repository = workdir / ("mlserver" if batching is None else f"mlserver-{batching[0]}-{batching[1]}")
    repository.mkdir(parents=True, exist_ok=True)
    (repository / "settings.json").write_text(
        json.dumps(
            {"host": LOOPBACK, "http_port": http, "grpc_port": grpc, "metrics_port": metrics, "parallel_workers": 0}
        )
    )
    model_settings: dict[str, object] = {
        "name": NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(Path(model_dir) / "model.joblib")},
    }
    if batching is not None:
        model_settings.update(max_batch_size=batching[0], max_batch_time=batching[1])
    (repository / "model-settings.json").write_text(json.dumps(model_settings))
    url = f"http://{LOOPBACK}:{http}"
    service = Service("mlserver", [str(executable), "start", str(repository)], f"{url}/v2/models/{NAME}/ready")
    return service, url


def fastapi_gunicorn(model_dir: str, workers: int = 2) -> tuple[Service, str]:
    """``bench/fastapi_app.py`` under Gunicorn with ``workers`` Uvicorn workers, and its base URL."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "uvicorn.workers.UvicornWorker",
        "-w",
        str(workers),
        "-b",
        f"{LOOPBACK}:{port}",
        "--log-level",
        "warning",
        "bench.fastapi_app:app",
    ]
    url = f"http://{LOOPBACK}:{port}"
    return Service("fastapi-gunicorn", argv, f"{url}/v2/models/{NAME}/ready", {"CASE_MODEL_DIR": model_dir}), url
