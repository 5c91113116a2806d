"""Session fixtures shared by every test package: small demo data and a really trained model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from case_model.demo_data import generate_cases, noisy_labels


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
    """A directory holding model.joblib, metadata.json (with SHA-256) and the model card."""
    from case_model.wheelbuild import write_artifact

    directory = tmp_path_factory.mktemp("artifact")
    write_artifact(trained, "1.0.0", directory, {"synthetic_data": True})
    return directory


@pytest.fixture(scope="session")
def model_wheel(artifact_dir, tmp_path_factory) -> Path:
    """The model wheel built from the session's artifact."""
    from case_model.wheelbuild import build_wheel

    return build_wheel(artifact_dir, "1.0.0", tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def index_credentials() -> tuple[str, str]:
    """A user and a random password for the test package index, generated per session."""
    import secrets

    return "ci-uploader", secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def package_index(tmp_path_factory, index_credentials):
    """A real pypiserver on a loopback port, uploads guarded by htpasswd; yields its base URL."""
    from passlib.apache import HtpasswdFile

    from localstack.processes import LOOPBACK, Service, free_port, python_module, start

    root = tmp_path_factory.mktemp("index")
    packages = root / "packages"
    packages.mkdir()
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(*index_credentials)
    htpasswd.save()
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = python_module(
        "pypiserver",
        "run",
        "-i",
        LOOPBACK,
        "-p",
        str(port),
        "-P",
        str(root / "htpasswd"),
        "-a",
        "update",
        str(packages),
    )
    running = start(Service("pypiserver", argv, f"{url}/health"), root / "logs")
    yield url
    running.stop()
