"""Session fixtures shared by every test package: small demo data and a really trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from case_batch.pipeline import LOOPBACK_ONLY
from case_model.training.demo_data import generate_cases, noisy_labels

# Every local Ray the tests start listens on loopback only (Ray reads this when it is imported).
os.environ.update(LOOPBACK_ONLY)

ROOT = Path(__file__).resolve().parents[1]
#: The development key pair `make keys` makes: the suite signs with it and every process it starts
#: verifies with it (a release sets both variables to its own key).
KEYS = ROOT / ".keys"
os.environ.setdefault("MODEL_SIGNING_KEY", str(KEYS / "model-signing.key"))
os.environ.setdefault("MODEL_SIGNING_PUBLIC_KEY", str(KEYS / "model-signing.pub"))
SIGNING_KEY = Path(os.environ["MODEL_SIGNING_KEY"])
#: The model package of the checkout, which the service processes of the suite import.
CHECKOUT_PACKAGE = ROOT / "case_model" / "src" / "case_model"


def pytest_configure(config) -> None:
    """The development token issuer the test stacks trust, made once by the controller (before
    any xdist worker starts) when ``make keys`` has not made it."""
    if not hasattr(config, "workerinput"):
        from tests.support.auth import ensure_issuer

        ensure_issuer()


def _frame(cases, labels=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [c.case_id for c in cases],
            "text": [c.text for c in cases],
            "label": labels if labels is not None else [c.label for c in cases],
        }
    )


@pytest.fixture(scope="session")
def demo_cases():
    """3,000 synthetic training cases (with noisy labels), their feedback and 600 validation cases."""
    cases = generate_cases(3000, seed=7, prefix="T")
    labels, feedback = noisy_labels(cases, seed=7)
    validation = generate_cases(600, seed=8, prefix="V")
    return _frame(cases, labels), pd.DataFrame(feedback), _frame(validation)


@pytest.fixture(scope="session")
def trained(demo_cases):
    """A real model trained on the demo cases (the TrainingResult)."""
    from case_model.training import train

    cases, feedback, validation = demo_cases
    return train(cases, validation, feedback, seed=0)


@pytest.fixture(scope="session")
def artifact_dir(trained, tmp_path_factory) -> Path:
    """A directory holding model.npz, vocabulary.json, metadata.json (with their SHA-256) and the model card."""
    from case_model.training.wheelbuild import write_artifact

    directory = tmp_path_factory.mktemp("artifact")
    write_artifact(trained, "1.0.0", directory, {"synthetic_data": True}, SIGNING_KEY)
    return directory


@pytest.fixture(scope="session")
def model_wheel(artifact_dir, tmp_path_factory) -> Path:
    """The model wheel built from the session's artifact."""
    from case_model.training.wheelbuild import build_wheel

    return build_wheel(artifact_dir, "1.0.0", tmp_path_factory.mktemp("wheels"), SIGNING_KEY)


@pytest.fixture(scope="session")
def index_credentials() -> tuple[str, str]:
    """A user and a random password for the test package index, generated per session."""
    import secrets

    return "ci-uploader", secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def package_index(tmp_path_factory, index_credentials):
    """A real pypiserver on a loopback port, uploads guarded by htpasswd; yields its base URL."""
    from passlib.apache import HtpasswdFile

    from dev.processes import LOOPBACK, Service, python_module, start_on_ports

    root = tmp_path_factory.mktemp("index")
    packages = root / "packages"
    packages.mkdir()
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(*index_credentials)
    htpasswd.save()

    def pypiserver(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "pypiserver",
            "run",
            "-i",
            LOOPBACK,
            "-p",
            str(ports[0]),
            "-P",
            str(root / "htpasswd"),
            "-a",
            "update",
            str(packages),
        )
        return Service("pypiserver", argv, f"http://{LOOPBACK}:{ports[0]}/health")

    running, (port,) = start_on_ports(pypiserver, 1, root / "logs")
    yield f"http://{LOOPBACK}:{port}"
    running.stop()


#: Service processes started by tests run the source tree, like the in-process tests.
SOURCE_ENV = {"PYTHONPATH": f"{ROOT / 'case_model' / 'src'}:{ROOT}"}


class RunningStack:
    """A started stack: its definition and the running processes by name."""

    def __init__(self, stack, running) -> None:
        self.stack = stack
        self.processes = {process.service.name: process for process in running}

    @property
    def transformer_url(self) -> str:
        return self.stack.url(self.stack.ports.http)

    @property
    def predictor_url(self) -> str:
        return self.stack.url(self.stack.ports.predictor_http)

    @property
    def language_url(self) -> str:
        return self.stack.url(self.stack.ports.language)

    @property
    def feedback_url(self) -> str:
        return self.stack.url(self.stack.ports.feedback)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


@pytest.fixture(scope="session")
def stack(artifact_dir, tmp_path_factory):
    """The real services (language service, feedback service on a SQLite file, predictor,
    transformer over gRPC) on loopback ports each holds (``stack.stack.ports``)."""
    from dev.stack import Ports, Stack, launch

    # Request logs on (off by default): the tracing test follows a request id through them, and
    # checks that even then no case text is written.
    access_logs = {f"{service}_ACCESS_LOG": "true" for service in ("TRANSFORMER", "PREDICTOR", "LANGUAGE")}
    from case_model import read_metadata

    store = tmp_path_factory.mktemp("feedback") / "feedback.sqlite"
    # The prediction log presents a service token, as the projected one on the cluster.
    from tests.support.auth import write_token

    service_token = tmp_path_factory.mktemp("service-token") / "token"
    write_token(service_token, ["service"], "transformer-test", 3 * 3600)
    # The labels a correction may name: the served model's (a deployment reads its installed wheel's).
    labels = ",".join(read_metadata(artifact_dir)["labels"])
    definition = Stack(
        ports=Ports.any(),
        model_dir=str(artifact_dir),
        feedback_store=f"sqlite:///{store}",
        env={**SOURCE_ENV, **access_logs, "FEEDBACK_LABELS": labels},
        service_token_file=str(service_token),
        # Tests poll the quality figures far above a reader's default rate.
        feedback_args=("--auth-rate-limits=crm=1000,agent=1000,service=1000,privacy=1000,reader=1000",),
    )
    # Each service on ports it really holds (started again on others if one was taken meanwhile);
    # the transformer last, pointed at the ports the others got.
    launched = launch(definition, tmp_path_factory.mktemp("stack-logs"))
    result = RunningStack(launched.stack, launched.processes.values())
    yield result
    result.stop()


@pytest.fixture(scope="session")
def fault_language(tmp_path_factory):
    """The switchable fault-injecting language service; yields its base URL."""
    from dev.processes import LOOPBACK, Service, python_module, start_on_ports

    def fault_language(ports: tuple[int, ...]) -> Service:
        argv = python_module("tests.support.fault_language", "--port", str(ports[0]))
        return Service("fault-language", argv, f"http://{LOOPBACK}:{ports[0]}/readyz", SOURCE_ENV)

    running, (port,) = start_on_ports(fault_language, 1, tmp_path_factory.mktemp("fault-logs"))
    yield f"http://{LOOPBACK}:{port}"
    running.stop()


@pytest.fixture(scope="session")
def fault_transformer(stack, fault_language, tmp_path_factory):
    """A transformer in front of the stack's predictor, whose language service is the fault server.

    Short budget (300 ms), breaker opening after 3 failures for 1 s, no cache (every call reaches
    the service), REST hop to the predictor, and a high confidence threshold.
    """
    from dev.processes import LOOPBACK, Service, python_module, start_on_ports
    from dev.stack import DEV_JWKS

    def fault_transformer(ports: tuple[int, ...]) -> Service:
        argv = python_module(
            "transformer",
            "--http_port",
            str(ports[0]),
            "--grpc_port",
            str(ports[1]),
            "--predictor_host",
            f"{LOOPBACK}:{stack.stack.ports.predictor_http}",
            "--predictor_protocol",
            "v2",
            "--language-url",
            f"{fault_language}/v1/detect",
            "--language-timeout-ms",
            "300",
            "--language-retries",
            "1",
            "--breaker-failures",
            "3",
            "--breaker-reset-seconds",
            "1",
            "--language-cache-size",
            "0",
            "--confidence-threshold",
            "0.99",
            # The development issuer's keys by absolute path: the process starts in pytest's cwd.
            "--auth-jwks-url",
            str(DEV_JWKS),
        )
        ready = f"http://{LOOPBACK}:{ports[0]}/v2/models/case-classifier/ready"
        return Service("fault-transformer", argv, ready, SOURCE_ENV)

    logs = tmp_path_factory.mktemp("fault-transformer-logs")
    running, (http, _) = start_on_ports(fault_transformer, 2, logs)
    yield f"http://{LOOPBACK}:{http}"
    running.stop()


@pytest.fixture(scope="session")
def published_model(model_wheel, package_index, index_credentials) -> str:
    """The session's model wheel uploaded to the test index with twine; returns the simple-index URL."""
    import os
    import subprocess
    import sys

    import httpx

    listing = httpx.get(f"{package_index}/simple/case-model/", follow_redirects=True)
    if model_wheel.name not in listing.text:  # twine has no --skip-existing for a non-PyPI index
        env = {**os.environ, "TWINE_USERNAME": index_credentials[0], "TWINE_PASSWORD": index_credentials[1]}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--repository-url",
                f"{package_index}/",
                str(model_wheel),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
    return f"{package_index}/simple/"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, as the services do."""
    return "asyncio"


@pytest.fixture(scope="session")
def reliability():
    """The Reliability table's ledger (see tests/support/reliability.py)."""
    from tests.support.reliability import Ledger, worker_id

    return Ledger(worker_id())


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controlling process, before any worker runs
        from case_signing import generate_key_pair, sign_directory
        from tests.support.reliability import clear

        clear()
        if not SIGNING_KEY.is_file():
            generate_key_pair(KEYS)
        # The service processes the suite starts import case_model from the checkout, and verify it
        # as they would an installed wheel: the checkout is signed as the wheel build signs a package.
        sign_directory(CHECKOUT_PACKAGE, SIGNING_KEY)


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.support.reliability import TABLE, write_table

    if hasattr(terminalreporter.config, "workerinput"):
        return
    table = write_table()
    if table:
        terminalreporter.write_sep("=", f"reliability: what was tried and what happened ({TABLE.name})")
        terminalreporter.write_line(table)


#: The PostgreSQL server every machine runs (CI's too): trust authentication on loopback.
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def postgres_url(worker_id):
    """A database of this test run's own on the local PostgreSQL server, dropped at the end."""
    import secrets

    from sqlalchemy import create_engine, text

    name = f"case_feedback_test_{worker_id}_{secrets.token_hex(4)}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{POSTGRES_SERVER}/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def labels(artifact_dir) -> list[str]:
    """The labels a correction may name: the served model's."""
    from case_model import read_metadata

    return list(read_metadata(artifact_dir)["labels"])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def feedback(request, labels, tmp_path_factory):
    """The real feedback service on each store it supports: a SQLite file, and a PostgreSQL
    database of the run's own; quality never cached. Shared: tests use case ids of their own."""
    from tests.support.feedback import start_feedback

    if request.param == "sqlite":
        store = f"sqlite:///{tmp_path_factory.mktemp('store') / 'feedback.sqlite'}"
    else:
        store = request.getfixturevalue("postgres_url")
    service = start_feedback(store, labels, tmp_path_factory.mktemp("feedback-logs"), "--quality-cache-seconds=0")
    yield service
    service.process.stop()
