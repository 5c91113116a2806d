"""The SHA-256 the model index publishes for a model wheel, for ``--build-arg MODEL_WHEEL_SHA256``.

    python3 docker/wheel_hash.py https://index.example/simple/ 1.2.0   ->  9f2c...

Read from the index's simple page (PEP 503: each file's link ends in ``#sha256=<hex>``), the same
page pip reads, so the image pins exactly the file the index served when the release was cut; a
file replaced on the index later no longer matches, and the image build fails. Standard library
only: the release pipeline runs it before any environment exists. Credentials, where the index
needs them, come from the netrc file pip reads too (``$NETRC``, else ``~/.netrc``), never from the
command line.
"""

from __future__ import annotations

import base64
import netrc
import os
import re
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

PACKAGE = "case-model"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def wheel_sha256(index_url: str, version: str) -> str:
    """The index's SHA-256 of ``case_model-<version>-py3-none-any.whl``.

    Raises:
        LookupError: the index lists no such wheel, or lists it without a SHA-256.
    """
    if not index_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError(f"{index_url}: the model index is reached over HTTPS (plain HTTP on loopback only)")
    page = f"{index_url.rstrip('/')}/{PACKAGE}/"
    host = urllib.parse.urlsplit(page).hostname or ""
    request = urllib.request.Request(page, headers=_authorization(host))  # noqa: S310 - scheme checked above
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310 - scheme checked above
        parser = _Links()
        parser.feed(response.read().decode("utf-8"))
    wanted = f"case_model-{version}-py3-none-any.whl"
    for href in parser.hrefs:
        path, _, fragment = href.partition("#")
        if path.rsplit("/", 1)[-1] == wanted:
            found = re.fullmatch(r"sha256=([0-9a-f]{64})", fragment)
            if not found:
                raise LookupError(f"{page} lists {wanted} without a sha256")
            return found.group(1)
    raise LookupError(f"{page} lists no {wanted}")


def _authorization(host: str) -> dict[str, str]:
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    if not path.is_file():
        return {}
    entry = netrc.netrc(str(path)).authenticators(host)
    if entry is None:
        return {}
    login, _, password = entry
    token = base64.b64encode(f"{login}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


if __name__ == "__main__":
    print(wheel_sha256(sys.argv[1], sys.argv[2]))
