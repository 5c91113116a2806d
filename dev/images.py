"""``make images``: build the images from the Dockerfiles a cluster uses, here.

    python -m dev.images                         # all six, with Docker if an engine runs, else podman
    python -m dev.images predictor transformer   # some of them
    python -m dev.images --base python:3.11-slim-bookworm@sha256:...   # another base image

The model wheel comes from a package index, as in the release pipeline: the wheel ``make model``
built last (``dist/.model-built``) is served by a pypiserver on a loopback port for the build.

The Dockerfiles' default base is the real ``python:3.11-slim-bookworm`` pinned by digest. Where no
registry is reachable (these machines), podman builds on a base made locally: Debian bookworm by
``debootstrap`` with Python 3.11 (the minor version the suite tests), imported as
``localhost/python-base:bookworm``. podman needs the ``runc`` runtime and explicit ulimits here,
and pip inside the build reaches the registries through the host's network and CA file.
"""

from __future__ import annotations

import argparse
import os
import shutil

# the engines and debootstrap, with argument lists built here, no shell
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from case_signing import public_key_path
from dev.dockerfiles import IMAGES as DOCKERFILES
from dev.processes import LOOPBACK, Service, python_module, start_on_ports

ROOT = Path(__file__).resolve().parents[1]
#: Every image, in the order its Dockerfile's template lists them (dev/dockerfiles.py).
IMAGES = tuple(image.name for image in DOCKERFILES)
LOCAL_BASE = "localhost/python-base:bookworm"
#: What pip inside a build needs from the host to reach the registries (read-only mounts).
HOST_PIP_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")


@dataclass(frozen=True)
class Engine:
    """docker, or podman with the flags these machines need."""

    name: str

    def command(self, *args: str) -> list[str]:
        """An engine command line."""
        if self.name == "podman":
            return ["podman", "--runtime", "runc", *args]
        return [self.name, *args]

    def limits(self) -> list[str]:
        """podman here cannot raise the default ulimits: explicit ones for build and run."""
        return ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"] if self.name == "podman" else []


def find_engine() -> Engine | None:
    """Docker where an engine answers, else podman where it can run a container; None otherwise."""
    if shutil.which("docker") and _ok(["docker", "info"]):
        return Engine("docker")
    if shutil.which("podman") and shutil.which("runc") and _ok(["podman", "--runtime", "runc", "info"]):
        return Engine("podman")
    return None


def _ok(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=60, check=False).returncode == 0  # nosec B603
    except (OSError, subprocess.TimeoutExpired):
        return False


def local_base(engine: Engine) -> str:
    """The locally made base image (debootstrap), made once per machine."""
    if _ok(engine.command("image", "exists", LOCAL_BASE)):
        return LOCAL_BASE
    if shutil.which("debootstrap") is None:
        raise SystemExit("no base image and no debootstrap: apt-get install debootstrap (make tools)")
    with tempfile.TemporaryDirectory(prefix="python-base-") as root:
        packages = "--include=python3,python3-venv,python3-pip,ca-certificates"
        argv = ["debootstrap", "--variant=minbase", packages, "bookworm", root]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)  # nosec B603
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)  # nosec B603 B607
        subprocess.run(engine.command("import", "-", LOCAL_BASE), stdin=tar.stdout, check=True)  # nosec B603
        tar.wait()
    return LOCAL_BASE


@contextmanager
def model_index(wheel: Path) -> Iterator[str]:
    """A pypiserver on loopback serving ``wheel``; its simple-index URL."""
    with tempfile.TemporaryDirectory(prefix="model-index-") as root:
        shutil.copy(wheel, root)

        def index(ports: tuple[int, ...]) -> Service:
            argv = python_module("pypiserver", "run", "-i", LOOPBACK, "-p", str(ports[0]), "-a", ".", "-P", ".", root)
            return Service("build-model-index", argv, f"http://{LOOPBACK}:{ports[0]}/health")

        running, (port,) = start_on_ports(index, 1, Path(root) / "logs")
        try:
            yield f"http://{LOOPBACK}:{port}/simple/"
        finally:
            running.stop()


def wheel_sha256(index_url: str, version: str) -> str:
    """The wheel's SHA-256 as the index publishes it, read by the release pipeline's own script."""
    argv = [sys.executable, str(ROOT / "docker" / "wheel_hash.py"), index_url, version]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()  # nosec B603


def tag(image: str, version: str) -> str:
    """The local name of an image."""
    return f"localhost/case-classifier-{image}:{version}"


def build(engine: Engine, image: str, version: str, base: str | None, index_url: str) -> float:
    """Build one image, the wheel pinned by the hash the index publishes; the seconds it took."""
    argv = engine.command("build", "--network", "host", *engine.limits())
    if engine.name == "podman":
        argv += [arg for path in HOST_PIP_FILES if Path(path).exists() for arg in ("-v", f"{path}:{path}:ro")]
    if base:
        argv += ["--build-arg", f"PYTHON_IMAGE={base}"]
    argv += ["--build-arg", f"MODEL_VERSION={version}", "--build-arg", f"MODEL_INDEX_URL={index_url}"]
    argv += ["--build-arg", f"MODEL_WHEEL_SHA256={wheel_sha256(index_url, version)}"]
    argv += ["--build-arg", f"MODEL_SIGNING_PUBLIC_KEY={public_key_path().read_text().strip()}"]
    argv += ["-f", str(ROOT / f"Dockerfile.{image}"), "-t", tag(image, version), str(ROOT)]
    started = time.monotonic()
    subprocess.run(argv, check=True)  # nosec B603
    return time.monotonic() - started


def size_mb(engine: Engine, name: str) -> float:
    """An image's size in MB, as the engine reports it."""
    out = subprocess.run(
        engine.command("image", "inspect", "--format", "{{.Size}}", name), capture_output=True, text=True, check=True
    ).stdout  # nosec B603
    return int(out.strip()) / 1e6


def built_wheel() -> tuple[Path, str]:
    """The wheel ``make model`` recorded, and its version."""
    record = ROOT / "dist" / ".model-built"
    if not record.is_file():
        raise SystemExit("no model wheel recorded in dist/.model-built: make model builds one")
    wheel = Path(record.read_text().strip())
    return wheel, wheel.name.split("-")[1]


def build_all(
    images: Sequence[str], engine: Engine, base: str | None = None, wheel: Path | None = None
) -> dict[str, float]:
    """Build ``images`` for the recorded (or given) wheel's version; seconds per image."""
    wheel, version = (wheel, wheel.name.split("-")[1]) if wheel else built_wheel()
    if base is None and engine.name == "podman":
        base = local_base(engine)
    with model_index(wheel) as index_url:
        return {image: build(engine, image, version, base, index_url) for image in images}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m dev.images``."""
    parser = argparse.ArgumentParser(prog="python -m dev.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", help=f"which of {', '.join(IMAGES)} (default: all)")
    parser.add_argument("--base", help="base image (default: the Dockerfiles' pinned one; podman here: a local one)")
    parser.add_argument("--engine", choices=("docker", "podman"), help="default: docker if it runs, else podman")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.images) - set(IMAGES))
    if unknown:
        parser.error(f"no image {', '.join(unknown)}; the images are {', '.join(IMAGES)}")
    engine = Engine(args.engine) if args.engine else find_engine()
    if engine is None:
        print("no container engine runs here: neither docker (an engine) nor podman with runc", file=sys.stderr)
        return 2
    images = args.images or list(IMAGES)
    seconds = build_all(images, engine, args.base)
    _, version = built_wheel()
    for image in images:
        name = tag(image, version)
        print(f"{name}  {size_mb(engine, name):7.0f} MB  built in {seconds[image]:5.1f} s")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
