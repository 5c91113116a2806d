"""Docs that do not rot: every repository path that README.md, docs/*.md, the manifests' comments
and the top-level Dockerfiles' comments cite exists.

The rule, and why it is this one. Prose is full of strings with a slash in them that are not
repository paths (URLs, API routes, image references, Kubernetes label keys, package specifiers),
so a string counts as a *cited path* only when it looks like one for a reason that is no
coincidence:

- a relative markdown link ``[text](target)`` (or a reference link ``[id]: target``): resolved
  against the document, as GitHub resolves it;
- a token whose first segment is an entry of the repository's top level (``tests/...``,
  ``manifests/...``, ``case_model/...``): nothing else starts that way by chance;
- a token with a slash whose last segment ends in a file suffix (.py .md .yaml ...): a vanished
  package such as ``lifecycle/warmup.py`` has no top-level entry left to be recognised by;
- a whole inline code span that ends in ``/`` (``microbatch/``, ``service/``): how this
  project names a directory, whether or not it still exists;
- a bare file name with a file suffix in a comment (``mesh-peering.yaml``) or in inline code
  (``settings.py``); in running markdown prose a bare name is as often a file inside an artifact
  (the model wheel's vocabulary.json) and is left alone.

A token is never a cited path when it holds a scheme (``://``), starts with ``/`` or ``~`` (a path
on the host or inside a container image: /opt/venv, /tmp, ~/.netrc) or ``-`` (an option), or holds
a placeholder or pattern (``<env>``, ``{id}``, ``$HOME``, ``*``, ``?``), ``=``, ``@``, or a ``:``
other than a ``file:line`` suffix (image tags such as ``docker/dockerfile:1.7``, host:port).

Where a cited path must exist:

- a markdown link: relative to the document;
- a path with a slash: relative to the citing file's directory or any directory above it up to the
  root (the manifests cite each other relative to manifests/base: ``monitoring/podmonitors.yaml``);
- a bare name (``settings.py``, ``pii/``): it names a file in the context of its sentence (the
  README's reading-order table names each package's modules), so it must be the name of some file,
  or for a trailing ``/`` some directory, of the repository;
- anything the root .gitignore covers counts as existing: it is what the project generates
  (``dist/``, ``build/reliability.md``, ``.venv/bin/case-model``).

The check runs per cited file, so a failure names the file, and lists every missing path with its
line. The extractor is tested on a small text of its own, and the number of citations found has a
floor, so a broken extractor cannot pass by finding nothing.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: The suffixes that make a token a file name.
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".sh", ".json", ".cfg", ".ini", ".lua", ".png")
#: A scheme, a placeholder, a pattern, a specifier or an address: not a repository path.
NOT_A_PATH = re.compile(r"://|[<>{}$*?=@\\]")
#: What a path is made of.
PATH_CHARS = re.compile(r"^[\w.+\-/]+$")
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*(\S+)", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
CODE_SPAN = re.compile(r"`([^`]+)`")
TOKEN = re.compile(r"[^\s`'\"()\[\],;|]+")
COMMENT = re.compile(r"^\s*#")


@dataclass(frozen=True)
class Citation:
    file: Path
    line: int
    path: str
    link: bool  # a markdown link: resolved against the document only

    def __str__(self) -> str:
        return f"{_relative(self.file)}:{self.line}: {self.path}"


def _relative(file: Path) -> str:
    return file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else str(file)


def _blank(text: str, start: int, end: int) -> str:
    """`text` with [start, end) turned to spaces, newlines kept, so offsets and lines still hold."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _clean(token: str) -> str | None:
    """The path a token names, or None when it cannot name one."""
    token = token.split("::", 1)[0]  # a pytest node id: tests/x.py::test_y
    token = token.rstrip(".,:;!?")
    token = re.sub(r"(:\d+)+$", "", token)  # file:line
    token = token.removeprefix("./")
    if not token or token in {".", ".."} or ":" in token or NOT_A_PATH.search(token):
        return None
    if not PATH_CHARS.match(token) or token.startswith(("/", "~", "-")):
        return None
    return token


def _is_cited(path: str, top_level: set[str], *, whole_span: bool, names_files: bool) -> bool:
    segments = [s for s in path.split("/") if s not in {"", ".", ".."}]
    if not segments:
        return False
    if "/" in path.rstrip("/"):
        return segments[0] in top_level or segments[-1].endswith(FILE_SUFFIXES) or (whole_span and path.endswith("/"))
    if path.endswith("/"):
        return whole_span
    return names_files and path.endswith(FILE_SUFFIXES)


def extract(file: Path, text: str, top_level: set[str], *, comments_only: bool = False) -> list[Citation]:
    """The repository paths `text`, the contents of `file`, cites (of a YAML file or a Dockerfile:
    in its comment lines only)."""
    if comments_only:
        text = "\n".join(line if COMMENT.match(line) else "" for line in text.split("\n"))
    found: list[Citation] = []

    def cite(offset: int, path: str, *, link: bool) -> None:
        found.append(Citation(file, text.count("\n", 0, offset) + 1, path, link))

    def scan(offset: int, chunk: str, *, code: bool) -> None:
        for match in TOKEN.finditer(chunk):
            path = _clean(match.group())
            whole_span = code and match.group() == chunk.strip()
            if path and _is_cited(path, top_level, whole_span=whole_span, names_files=code or comments_only):
                cite(offset + match.start(), path, link=False)

    rest = text
    if not comments_only:
        for match in FENCE.finditer(text):
            scan(match.start(), match.group(), code=False)
            rest = _blank(rest, match.start(), match.end())
        for pattern in (LINK, REFERENCE_LINK):
            for match in pattern.finditer(rest):
                target = match.group(1).split("#", 1)[0]
                if target and not SCHEME.match(target) and not target.startswith(("/", "~")):
                    cite(match.start(1), target, link=True)
                rest = _blank(rest, match.start(1), match.end(1))
    for match in CODE_SPAN.finditer(rest):
        scan(match.start(1), match.group(1), code=True)
        rest = _blank(rest, match.start(), match.end())
    scan(0, rest, code=False)
    return sorted(found, key=lambda c: (c.line, c.path))


@functools.cache
def _ignore_patterns() -> tuple[str, ...]:
    lines = (line.strip() for line in (ROOT / ".gitignore").read_text().splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def _gitignored(path: str) -> bool:
    """Whether the root .gitignore covers `path`, relative to the root (the last match wins)."""
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        prefix, is_dir = "/".join(parts[:i]), i < len(parts) or path.endswith("/")
        ignored = False
        for pattern in _ignore_patterns():
            body = pattern.removeprefix("!")
            if body.endswith("/") and not is_dir:
                continue
            body = body.rstrip("/")
            subject = prefix if "/" in body else parts[i - 1]
            if fnmatch.fnmatchcase(subject, body.lstrip("/")):
                ignored = not pattern.startswith("!")
        if ignored:
            return True
    return False


@functools.cache
def _names() -> tuple[frozenset[str], frozenset[str]]:
    """The names of every file and every directory of the repository (generated ones left out)."""
    files: set[str] = set()
    directories: set[str] = set()
    for directory, subdirectories, filenames in os.walk(ROOT):
        here = Path(directory).relative_to(ROOT).as_posix()
        subdirectories[:] = [
            d for d in subdirectories if d != ".git" and not _gitignored(f"{here}/{d}/".removeprefix("./"))
        ]
        directories.update(subdirectories)
        files.update(filenames)
    return frozenset(files), frozenset(directories)


def exists(citation: Citation) -> bool:
    path = citation.path
    if citation.link:
        return (citation.file.parent / path).exists()
    if _gitignored(path):
        return True
    if "/" not in path.rstrip("/"):
        files, directories = _names()
        name = path.rstrip("/")
        return name in directories if path.endswith("/") else name in files or name in directories
    directory = citation.file.parent
    while directory.is_relative_to(ROOT):
        candidate = (directory / path).resolve()
        if candidate.is_relative_to(ROOT) and candidate.exists():
            return True
        directory = directory.parent
    return False


def _top_level() -> set[str]:
    return {entry.name for entry in ROOT.iterdir() if entry.name != ".git"}


#: Each cited file, and whether only its comment lines are read.
SOURCES: list[tuple[Path, bool]] = [
    (ROOT / "README.md", False),
    *((path, False) for path in sorted((ROOT / "docs").glob("*.md"))),
    *((path, True) for path in sorted((ROOT / "manifests").rglob("*.y*ml"))),
    *((path, True) for path in sorted(ROOT.glob("Dockerfile*"))),
]


def _citations(file: Path, comments_only: bool) -> list[Citation]:
    return extract(file, file.read_text(), _top_level(), comments_only=comments_only)


def _source_params() -> list[object]:
    params: list[object] = []
    for file, comments_only in SOURCES:
        params.append(pytest.param(file, comments_only, id=_relative(file)))
    return params


@pytest.mark.parametrize(("file", "comments_only"), _source_params())
def test_every_cited_repository_path_exists(file: Path, comments_only: bool):
    missing = [str(c) for c in _citations(file, comments_only) if not exists(c)]
    assert not missing, "cited paths that do not exist:\n" + "\n".join(missing)


def test_the_check_finds_enough_citations_to_mean_something():
    citations = [c for file, comments_only in SOURCES for c in _citations(file, comments_only)]
    assert len(citations) >= 120, len(citations)
    assert sum(c.link for c in citations) >= 5
    assert sum(1 for c in citations if c.file.suffix in {".yaml", ".yml"}) >= 15
    assert sum(1 for c in citations if c.file.parent == ROOT / "docs") >= 30


SAMPLE = """\
Batching lives in `microbatch/` and the route in `contract/rest_infer.py`; warm-up in
lifecycle/warmup.py, the guard in tests/case_model/test_nothing_here.py::test_it, see
[the runbook](runbook.md) and ![chart](bench/results/latency_throughput.png).
Alive: `tests/conftest.py:12`, [hostile texts](hostile-text.md#the-guard), `dev/`, `pyproject.toml`.
Not paths: https://example.com/a/b.py, /v2/models/case-classifier/infer, /v1/cases/{id},
`python:3.11-slim`, spec.predictor, `kserve>=0.15`, prometheus.io/*, overlays/<env>/release/,
/opt/venv/bin/python, ~/.netrc, $HOME/.netrc, app.kubernetes.io/name, [top](#quick-start),
`docker/dockerfile:1.7`, registry.example/case-classifier:1.2.0, and the wheel's vocabulary.json.
"""


def test_the_extractor_flags_dead_paths_and_nothing_that_is_not_a_path():
    citations = extract(ROOT / "docs" / "sample.md", SAMPLE, _top_level())
    dead = {c.path: c.line for c in citations if not exists(c)}
    assert dead == {
        "microbatch/": 1,
        "contract/rest_infer.py": 1,
        "lifecycle/warmup.py": 2,
        "tests/case_model/test_nothing_here.py": 2,
        "runbook.md": 3,
        "bench/results/latency_throughput.png": 3,  # relative to docs/, as GitHub resolves it
    }
    alive = {c.path for c in citations if exists(c)}
    assert alive == {"tests/conftest.py", "hostile-text.md", "dev/", "pyproject.toml"}


def test_comments_are_read_and_code_is_not():
    text = "# The mesh policy (mesh-peering.yaml) allows it; see tests/manifests.\nkind: gone.yaml/x.py\n"
    citations = extract(ROOT / "manifests" / "base" / "sample.yaml", text, _top_level(), comments_only=True)
    assert [(c.line, c.path, exists(c)) for c in citations] == [
        (1, "mesh-peering.yaml", False),
        (1, "tests/manifests", True),
    ]
