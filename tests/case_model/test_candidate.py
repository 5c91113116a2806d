"""Retraining proposes, a person releases: the CronJob's `train --candidate` builds an unsigned
wheel with its report and SHA256SUMS and refuses any signing key; `stage-candidate` puts them in a
candidates store (a real HTTP server here, on a loopback port) and never overwrites a version; the
release pipeline's `sign-candidate` signs the approved wheel so that `verify-wheel` passes it,
while the unsigned candidate itself is refused."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from case_model.training import cli
from case_model.training.champion import REPORT_FILES
from case_model.training.wheelcheck import check_wheel
from case_signing.cli import main as case_signing
from tests.conftest import KEYS

pytestmark = pytest.mark.slow

VERSION = "1.1.0"
WHEEL = f"case_model-{VERSION}-py3-none-any.whl"
USER, TOKEN = "uploader", "s3cr:et/token"


def _train(tmp: Path, champion: Path, out: Path, *extra: str) -> list[str]:
    # The CronJob's arguments (manifests/base/retrain.yaml), on small files and a gate wide open:
    # what is tested here is what is built, not how good the model is.
    return [
        "train",
        f"--data={tmp / 'cases.parquet'}",
        f"--validation={tmp / 'validation.parquet'}",
        f"--champion={champion}",
        "--candidate",
        f"--out={out}",
        f"--built-file={out / '.model-built'}",
        f"--report={out}",
        "--min-macro-f1=0",
        "--f1-tolerance=1",
        "--max-recall-drop=1",
    ]


@pytest.fixture(scope="module")
def candidate(demo_cases, model_wheel, tmp_path_factory) -> Path:
    """The directory `train --candidate` fills, as the CronJob's stage step finds it."""
    tmp = tmp_path_factory.mktemp("candidate")
    cases, _, validation = demo_cases
    cases.iloc[:800].to_parquet(tmp / "cases.parquet")
    validation.iloc[:300].to_parquet(tmp / "validation.parquet")
    out = tmp / "candidate"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MODEL_SIGNING_KEY", raising=False)  # none in the retraining pod
        assert cli.main(_train(tmp, model_wheel, out)) == 0
    return out


def test_a_candidate_is_an_unsigned_wheel_with_its_report_and_their_sha256(candidate):
    names = {p.name for p in candidate.iterdir()}
    assert names == {WHEEL, *REPORT_FILES, "SHA256SUMS", ".model-built"}
    assert (candidate / ".model-built").read_text().strip() == str(candidate / WHEEL)
    listed = [line.split("  ")[1] for line in (candidate / "SHA256SUMS").read_text().splitlines()]
    assert sorted(listed) == sorted([WHEEL, *REPORT_FILES])
    # The release workflow checks it with sha256sum itself.
    subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=candidate, check=True, capture_output=True)
    report = json.loads((candidate / "report.json").read_text())
    assert report["passed"] is True
    assert report["challenger"]["version"] == VERSION
    with zipfile.ZipFile(candidate / WHEEL) as wheel:
        assert not [n for n in wheel.namelist() if n.endswith("model.sig")]
    assert check_wheel(candidate / WHEEL) == []  # a well-formed wheel, just not signed


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_candidate_build_refuses_a_signing_key(how, model_wheel, tmp_path, monkeypatch, capsys):
    key = str(KEYS / "model-signing.key")
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    argv = _train(tmp_path, model_wheel, tmp_path / "out")
    if how == "flag":
        argv.append(f"--signing-key={key}")
    else:
        monkeypatch.setenv("MODEL_SIGNING_KEY", key)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "a candidate is built unsigned" in err
    assert ("--signing-key" if how == "flag" else "$MODEL_SIGNING_KEY") in err
    assert not (tmp_path / "out").exists()


class _Store(http.server.BaseHTTPRequestHandler):
    """A candidates store as Nexus raw or Artifactory generic behave: PUT stores a file; with
    `If-None-Match: *` a file it already holds is refused with 412 and left as it was."""

    files: dict[str, bytes]
    authorizations: list[str | None]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.authorizations.append(self.headers.get("Authorization"))
        if self.headers.get("If-None-Match") == "*" and self.path in self.files:
            self.send_response(412)
        else:
            self.files[self.path] = body
            self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self.authorizations.append(self.headers.get("Authorization"))
        self.send_response(200 if self.path in self.files else 404)
        self.send_header("Content-Length", str(len(self.files.get(self.path, b""))))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def store(tmp_path) -> Iterator[tuple[type[_Store], Path]]:
    """A store on a loopback port it holds; yields the handler (its files) and the URL Secret file."""
    handler = type("Store", (_Store,), {"files": {}, "authorizations": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    secret = tmp_path / "url"
    token = TOKEN.replace(":", "%3A").replace("/", "%2F")
    secret.write_text(f"http://{USER}:{token}@127.0.0.1:{server.server_port}/repository/cands/\n")
    yield handler, secret
    server.shutdown()
    server.server_close()


def test_staging_stores_every_file_once_and_a_second_staging_of_the_version_fails(candidate, store, capsys):
    handler, secret = store
    assert cli.main(["stage-candidate", str(candidate), f"--store-url-file={secret}"]) == 0
    expected = {f"/repository/cands/candidates/{VERSION}/{n}" for n in [WHEEL, *REPORT_FILES, "SHA256SUMS"]}
    assert set(handler.files) == expected
    for path, body in handler.files.items():
        assert body == (candidate / path.rsplit("/", 1)[1]).read_bytes()
    basic = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert set(handler.authorizations) == {basic}
    assert TOKEN not in capsys.readouterr().out

    before = dict(handler.files)
    assert cli.main(["stage-candidate", str(candidate), f"--store-url-file={secret}"]) == 1
    err = capsys.readouterr().err
    assert "already holds http://127.0.0.1:" in err
    assert "HTTP 412" in err
    assert "never staged twice" in err
    assert "s3cr" not in err  # the credentials are never printed
    assert handler.files == before


def test_staging_refuses_a_file_changed_since_the_build(candidate, store, tmp_path, capsys):
    handler, secret = store
    changed = tmp_path / "changed"
    shutil.copytree(candidate, changed)
    with (changed / "report.md").open("a") as report:
        report.write("\nall good, ship it\n")
    assert cli.main(["stage-candidate", str(changed), f"--store-url-file={secret}"]) == 1
    assert "report.md does not match its SHA-256 in SHA256SUMS" in capsys.readouterr().err
    assert handler.files == {}


def test_staging_refuses_plain_http_off_loopback(candidate, tmp_path, capsys):
    secret = tmp_path / "url"
    secret.write_text(f"http://{USER}:x@localhost.evil.example/repo/\n")
    assert cli.main(["stage-candidate", str(candidate), f"--store-url-file={secret}"]) == 1
    assert "must be an https:// URL" in capsys.readouterr().err


def _package_digests(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("case_model/")]
        return {n: hashlib.sha256(archive.read(n)).hexdigest() for n in names}


def test_a_signed_candidate_verifies_and_the_unsigned_one_is_refused(candidate, model_wheel, tmp_path, capsys):
    public = str(KEYS / "model-signing.pub")
    assert case_signing(["verify-wheel", str(candidate / WHEEL), "--public-key", public]) == 3
    assert "is not signed" in capsys.readouterr().err

    key = str(KEYS / "model-signing.key")
    release = tmp_path / "release"
    assert cli.main(["sign-candidate", str(candidate / WHEEL), "--signing-key", key, "--out", str(release)]) == 0
    signed = release / WHEEL
    assert case_signing(["verify-wheel", str(signed), "--public-key", public]) == 0
    assert check_wheel(signed) == []
    # What was approved is what is released: the same files, and the two signatures added.
    with zipfile.ZipFile(candidate / WHEEL) as before, zipfile.ZipFile(signed) as after:
        package = {
            n: hashlib.sha256(before.read(n)).hexdigest() for n in before.namelist() if n.startswith("case_model/")
        }
        released = {
            n: hashlib.sha256(after.read(n)).hexdigest() for n in after.namelist() if n.startswith("case_model/")
        }
    assert set(released) - set(package) == {"case_model/model.sig", "case_model/_artifact/model.sig"}
    assert {n: released[n] for n in package} == package


def test_signing_refuses_a_wheel_that_already_holds_a_signature(model_wheel, tmp_path, capsys):
    key = str(KEYS / "model-signing.key")
    assert cli.main(["sign-candidate", str(model_wheel), "--signing-key", key, "--out", str(tmp_path)]) == 2
    assert "already holds a signature" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.whl"))


# Versions are never reused: the next one is above what the index holds, not the champion's minor + 1.

SIMPLE_PAGE = """<!DOCTYPE html><html><body>
<a href="/packages/case_model-1.1.0-py3-none-any.whl#sha256=00">case_model-1.1.0-py3-none-any.whl</a>
<a href="/packages/case_model-1.3.0-py3-none-any.whl#sha256=00">case_model-1.3.0-py3-none-any.whl</a>
<a href="/packages/case_model-1.2.0.tar.gz">case_model-1.2.0.tar.gz</a>
</body></html>"""


class _Index(http.server.BaseHTTPRequestHandler):
    """A PEP 503 simple index holding case-model 1.1.0 and 1.3.0 (the champion is still 1.0.0)."""

    def do_GET(self) -> None:
        body = SIMPLE_PAGE.encode() if self.path == "/simple/case-model/" else b"not found"
        self.send_response(200 if self.path == "/simple/case-model/" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple/"
    server.shutdown()
    server.server_close()


def test_the_index_versions_are_read_from_its_simple_api(index):
    from case_model.training.versioning import index_versions, next_version

    assert index_versions(index) == ["1.1.0", "1.3.0"]
    assert index_versions(index.replace("/simple/", "/empty/")) == []  # never published: 404
    assert next_version(["1.0.0", *index_versions(index)]) == "1.4.0"


def test_a_version_the_index_holds_is_refused_before_training(
    demo_cases, model_wheel, index, tmp_path, monkeypatch, capsys
):
    cases, _, validation = demo_cases
    cases.iloc[:50].to_parquet(tmp_path / "cases.parquet")
    validation.iloc[:50].to_parquet(tmp_path / "validation.parquet")
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    out = tmp_path / "out"
    assert cli.main([*_train(tmp_path, model_wheel, out), f"--index-url={index}", "--version=1.3.0"]) == 2
    assert "version 1.3.0 is not above the latest model version 1.3.0" in capsys.readouterr().err
    assert not out.exists()


def test_a_candidate_is_numbered_above_every_version_the_index_holds(
    demo_cases, model_wheel, index, tmp_path, monkeypatch, capsys
):
    cases, _, validation = demo_cases
    cases.iloc[:800].to_parquet(tmp_path / "cases.parquet")
    validation.iloc[:300].to_parquet(tmp_path / "validation.parquet")
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    out = tmp_path / "candidate"
    assert cli.main([*_train(tmp_path, model_wheel, out), f"--index-url={index}"]) == 0
    assert (out / "case_model-1.4.0-py3-none-any.whl").is_file()  # the champion is 1.0.0: not 1.1.0
    assert json.loads((out / "report.json").read_text())["challenger"]["version"] == "1.4.0"


def test_two_retraining_runs_never_build_one_version(demo_cases, model_wheel, index, store, tmp_path, monkeypatch):
    """As the CronJob runs: the index holds 1.3.0, so the first run builds and stages 1.4.0. Nobody
    has released it when the next week's run starts: that one builds 1.5.0, not 1.4.0 again."""
    handler, secret = store
    cases, _, validation = demo_cases
    cases.iloc[:800].to_parquet(tmp_path / "cases.parquet")
    validation.iloc[:300].to_parquet(tmp_path / "validation.parquet")
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    index_secret = tmp_path / "index-url"
    index_secret.write_text(f"{index}\n")
    built = []
    for week in ("first", "second"):
        out = tmp_path / week
        argv = [
            *_train(tmp_path, model_wheel, out),
            f"--index-url-file={index_secret}",
            f"--candidates-url-file={secret}",
        ]
        assert cli.main(argv) == 0
        assert cli.main(["stage-candidate", str(out), f"--store-url-file={secret}"]) == 0
        built += [path.name for path in out.glob("case_model-*.whl")]
    assert built == ["case_model-1.4.0-py3-none-any.whl", "case_model-1.5.0-py3-none-any.whl"]
    staged = {path.split("/")[4] for path in handler.files}
    assert staged == {"1.4.0", "1.5.0"}


def test_an_explicit_version_a_candidate_holds_is_refused(
    demo_cases, model_wheel, store, tmp_path, monkeypatch, capsys
):
    handler, secret = store
    handler.files["/repository/cands/candidates/2.0.0/SHA256SUMS"] = b"staged earlier"
    cases, _, validation = demo_cases
    cases.iloc[:50].to_parquet(tmp_path / "cases.parquet")
    validation.iloc[:50].to_parquet(tmp_path / "validation.parquet")
    monkeypatch.delenv("MODEL_SIGNING_KEY", raising=False)
    out = tmp_path / "out"
    argv = [*_train(tmp_path, model_wheel, out), f"--candidates-url-file={secret}", "--version=2.0.0"]
    assert cli.main(argv) == 2
    assert "version 2.0.0 is already a staged candidate" in capsys.readouterr().err
    assert not out.exists()
