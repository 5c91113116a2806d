"""The six Dockerfiles, written from one template: ``python -m dev.dockerfiles`` (``make dockerfiles``).

Every image is built the same way (a pinned base, a build stage that runs docker/install.sh with
the build secret, a final stage with only the virtualenv, a numeric non-root user) and differs
only in what it installs, what it runs and what it says about itself. That common part is written
once, here; each image is a row of :data:`IMAGES`. The Dockerfiles stay in the repository, under
the names users and the pipeline build (``docker build -f Dockerfile.transformer``), and
``tests/dev/test_dockerfiles.py`` fails when one differs from what this module writes, so a change
to the common part is made here and lands in all six at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: python:3.11-slim-bookworm pinned by digest: see the comment the template writes above it.
PYTHON_IMAGE = "python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b"


@dataclass(frozen=True)
class Image:
    """What one image installs and runs, and what sets it apart from the common part."""

    name: str
    description: str
    #: The package directory docker/install.sh installs, with extras: also its locks/<lock>.txt.
    deployable: str
    lock: str
    entrypoint: str
    cmd: tuple[str, ...] = ()
    expose: str = ""
    #: Lines this image adds, each already a Dockerfile line (comments included).
    usage_lines: tuple[str, ...] = ()
    header_note: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    install_note: tuple[str, ...] = ()
    install_env: tuple[str, ...] = ()
    final_args: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    copies: tuple[str, ...] = ()
    entry_comment: tuple[str, ...] = ()

    @property
    def dockerfile(self) -> Path:
        """Where the image's Dockerfile lives."""
        return ROOT / f"Dockerfile.{self.name}"


def _service(name: str, description: str, deployable: str, module: str, cmd: tuple[str, ...], expose: str) -> Image:
    return Image(name, description, deployable, name, module, cmd, expose)


IMAGES: tuple[Image, ...] = (
    _service(
        "predictor",
        "KServe predictor hosting the case classifier",
        "predictor",
        "predictor",
        ("--http_port=8080", "--grpc_port=8081"),
        "8080 8081",
    ),
    _service(
        "transformer",
        "KServe transformer: text steps, filtering, language detection",
        "transformer",
        "transformer",
        ("--http_port=8080", "--grpc_port=8081"),
        "8080 8081",
    ),
    _service(
        "language",
        "Reference language-detection service",
        "case_language[service]",
        "case_language",
        ("--host=0.0.0.0", "--port=8082"),
        "8082",
    ),
    _service(
        "feedback",
        "Feedback service: prediction log, corrections, quality",
        "case_feedback[service]",
        "case_feedback",
        ("--host=0.0.0.0", "--port=8083"),
        "8083",
    ),
    Image("batch", "Ray batch pipeline: the KubeRay RayJob's image", "case_batch", "batch", "case_batch"),
    Image(
        "retrain",
        "Retraining from agents' corrections, gated against the production model",
        "case_batch[retrain]",
        "retrain",
        "case_signing.model_cli",
        usage_lines=(
            "#     --build-arg ANCHOR_VERSION=1.0.0 --build-arg ANCHOR_WHEEL_SHA256=<the anchor wheel's sha256 on the index> \\",  # noqa: E501 - a Dockerfile line, as written
        ),
        header_note=(
            "#",
            "# ANCHOR_VERSION names the first approved model of the current line; left out, the model wheel",
            "# itself is the anchor, which is right for the first release of a new line (README: the",
            "# retraining gate's anchor).",
        ),
        build_args=(
            "# The anchor is a build argument, not a run-time flag: it is pinned by hash and verified with the",
            "# build-time key like the champion, and a pod cannot swap it for a weaker model. Empty: the",
            "# champion is the anchor.",
            'ARG ANCHOR_VERSION=""',
            'ARG ANCHOR_WHEEL_SHA256=""',
        ),
        install_note=(
            "# The production wheel's file is kept in /opt/champion and the anchor's in /opt/anchor: the new",
            "# model is scored against both.",
        ),
        install_env=(
            "    KEEP_MODEL_WHEEL=/opt/champion KEEP_ANCHOR_WHEEL=/opt/anchor \\",
            '    ANCHOR_VERSION="${ANCHOR_VERSION}" ANCHOR_WHEEL_SHA256="${ANCHOR_WHEEL_SHA256}" \\',
        ),
        final_args=('ARG ANCHOR_VERSION=""',),
        labels=('      io.case-classifier.anchor-version="${ANCHOR_VERSION:-${MODEL_VERSION}}"',),
        copies=("COPY --from=build /opt/champion /opt/champion", "COPY --from=build /opt/anchor /opt/anchor"),
        entry_comment=(
            "# The same commands as a local retraining (case-model train ...), behind the check of the",
            "# installed model package: case_model's own __init__ would run before its cli could check it.",
            "# Flags as in manifests/.",
        ),
    ),
)


def render(image: Image) -> str:
    """The Dockerfile of ``image``: the common part with the image's own lines in their places."""
    labels = [
        f'LABEL org.opencontainers.image.title="case-classifier-{image.name}" \\',
        f'      org.opencontainers.image.description="{image.description}" \\',
        '      org.opencontainers.image.source="https://github.com/example/case-classifier" \\',
        '      org.opencontainers.image.licenses="Apache-2.0" \\',
        '      org.opencontainers.image.version="${MODEL_VERSION}" \\',
        '      io.case-classifier.model-version="${MODEL_VERSION}"',
    ]
    if image.labels:
        labels[-1] += " \\"
        labels.extend(image.labels)
    entry_comment = image.entry_comment or (
        f"# The same entrypoint as the local run (python -m {image.entrypoint}); flags as in manifests/.",
    )
    lines = [
        "# syntax=docker/dockerfile:1.7",
        f"# case-classifier {image.name}: {image.description}.",
        "#",
        f"#   docker build -f Dockerfile.{image.name} \\",
        "#     --build-arg MODEL_VERSION=1.2.0 --build-arg MODEL_INDEX_URL=https://pypi.internal.example/simple/ \\",
        "#     --build-arg MODEL_WHEEL_SHA256=<the wheel's sha256 on the index> \\",
        '#     --build-arg MODEL_SIGNING_PUBLIC_KEY="$(cat release-model-signing.pub)" \\',
        *image.usage_lines,
        f"#     --secret id=netrc,src=$HOME/.netrc -t registry.example/case-classifier-{image.name}:1.2.0 .",
        *image.header_note,
        "#",
        "# PYTHON_IMAGE: python:3.11-slim-bookworm pinned by digest. The digest is the one recorded in public",
        "# Dockerfiles for that tag; it could not be pulled on the machine that wrote this file (no registry",
        "# access). Verify and bump with `docker buildx imagetools inspect python:3.11-slim-bookworm`.",
        "# checkov:skip=CKV_DOCKER_7: the base is pinned by digest in PYTHON_IMAGE; checkov does not resolve ARGs in FROM",  # noqa: E501 - a Dockerfile line, as written
        "# checkov:skip=CKV_DOCKER_2: Kubernetes ignores HEALTHCHECK; readiness/liveness probes are in manifests/",
        f"ARG PYTHON_IMAGE={PYTHON_IMAGE}",
        "",
        "FROM ${PYTHON_IMAGE} AS build",
        "ARG MODEL_VERSION",
        "ARG MODEL_INDEX_URL",
        "# The wheel is installed by this hash only, and only once its signature checks out against this key.",
        "ARG MODEL_WHEEL_SHA256",
        "ARG MODEL_SIGNING_PUBLIC_KEY",
        *image.build_args,
        "WORKDIR /src",
        "# The project's packages and pins (.dockerignore keeps tests, dev tools and the model source out);",
        "# the build stage only: the image below gets the installed virtualenv, nothing else.",
        "COPY . .",
        "# Index credentials come from a build secret (~/.netrc for pip), never from an argument or a layer.",
        *image.install_note,
        "RUN --mount=type=secret,id=netrc,target=/root/.netrc,required=false \\",
        f'    VENV=/opt/venv MODEL_VERSION="${{MODEL_VERSION}}" MODEL_INDEX_URL="${{MODEL_INDEX_URL}}" LOCK={image.lock} \\',  # noqa: E501 - a Dockerfile line, as written
        '    MODEL_WHEEL_SHA256="${MODEL_WHEEL_SHA256}" MODEL_SIGNING_PUBLIC_KEY="${MODEL_SIGNING_PUBLIC_KEY}" \\',
        *image.install_env,
        f'    sh docker/install.sh "{image.deployable}"',
        "",
        "FROM ${PYTHON_IMAGE}",
        "ARG MODEL_VERSION",
        *image.final_args,
        *labels,
        "ENV PATH=/opt/venv/bin:$PATH \\",
        "    PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1",
        "# Only the virtualenv: no sources, no pip cache, no compiler (the slim base has none).",
        "COPY --from=build /opt/venv /opt/venv",
        *image.copies,
        "# A numeric non-root user, so runAsNonRoot can verify it; the root filesystem can be read-only.",
        "USER 10001:10001",
        "WORKDIR /tmp",
        *([f"EXPOSE {image.expose}"] if image.expose else []),
        *entry_comment,
        f'ENTRYPOINT ["python", "-m", "{image.entrypoint}"]',
        *([f"CMD {json.dumps(list(image.cmd))}"] if image.cmd else []),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every Dockerfile (or, with ``--check``, say which differ and exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m dev.dockerfiles", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a Dockerfile differs")
    args = parser.parse_args(argv)
    stale = [image for image in IMAGES if image.dockerfile.read_text() != render(image)]
    if args.check:
        for image in stale:
            print(f"{image.dockerfile.name} differs from dev/dockerfiles.py: run make dockerfiles", file=sys.stderr)
        return 1 if stale else 0
    for image in stale:
        image.dockerfile.write_text(render(image))
        print(f"wrote {image.dockerfile.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
