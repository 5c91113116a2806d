"""The SHA-256 the model index publishes for a model wheel, for ``--build-arg MODEL_WHEEL_SHA256``.

    python3 docker/wheel_hash.py https://index.example/simple/ 1.2.0   ->  9f2c...
    python3 docker/wheel_hash.py --check-index URL    # exit 2 unless HTTPS, or HTTP on loopback

The model index is reached over HTTPS only: over plain HTTP anyone on the path could serve
another wheel (and read the upload credentials). Plain HTTP is accepted for a loopback host
only (the local index of ``make index`` and the tests), told by parsing the URL, never by its
prefix: ``http://localhost.evil.example`` is not loopback. ``make publish`` runs the same check
(``--check-index``) before twine uploads anything.

Read from the index's simple page (PEP 503: each file's link ends in ``#sha256=<hex>``), the same
page pip reads, so the image pins exactly the file the index served when the release was cut; a
file replaced on the index later no longer matches, and the image build fails. Standard library
only: the release pipeline runs it before any environment exists. Credentials, where the index
needs them, come from the netrc file pip reads too (``$NETRC``, else ``~/.netrc``), never from the
command line.
"""

from __future__ import annotations

import base64
import ipaddress
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's parsed host name) is this machine: ``localhost`` exactly, an
    address in ``127.0.0.0/8``, or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address: only "localhost" itself is trusted to be local
        return False


def secure_index_url(url: str) -> str:
    """``url`` if the model index may be reached at it: HTTPS, or plain HTTP to a loopback host.

    Raises:
        ValueError: another scheme, no host, or plain HTTP to a host that is not loopback.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return url
    if scheme == "http" and host and is_loopback(host):
        return url
    raise ValueError(f"{url}: the model index is reached over HTTPS (plain HTTP on loopback only)")


def wheel_sha256(index_url: str, version: str) -> str:
    """The index's SHA-256 of ``case_model-<version>-py3-none-any.whl``.

    Raises:
        LookupError: the index lists no such wheel, or lists it without a SHA-256.
    """
    secure_index_url(index_url)
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


def main(argv: list[str]) -> int:
    """``URL VERSION``: print the wheel's SHA-256; ``--check-index URL``: exit 2 unless the URL
    may be used (:func:`secure_index_url`), saying why."""
    if len(argv) == 2 and argv[0] == "--check-index":
        try:
            secure_index_url(argv[1])
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    if len(argv) != 2:
        print("usage: wheel_hash.py INDEX_URL VERSION | wheel_hash.py --check-index INDEX_URL", file=sys.stderr)
        return 2
    print(wheel_sha256(argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
