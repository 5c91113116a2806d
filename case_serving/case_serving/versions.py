"""Version-addressed routes: the served version answers there too, any other is a clear 404.

The V2 protocol lets a client name a version (``/v2/models/<m>/versions/<v>/...``, or KServe's
``?model_version=``), and some clients always do. Each server serves one version of one model: a
request naming that version is served as if it named none (the path is rewritten to the
unversioned route); a request naming another version gets a 404 that names the served one. A
rollout, not the URL, chooses which version answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from case_serving.asgi_answers import send_error
from case_serving.refusals import SHOWN_CHARS

_VERSIONED_PATH = re.compile(r"^/v2/models/([^/]+)/versions/([^/]+)(/.*)?$")


def not_served(model: str, version: str, served: str | None) -> str:
    """The refusal for a version this server does not serve."""
    return (
        f"model {model[:SHOWN_CHARS]!r} version {version[:SHOWN_CHARS]!r} is not served here; "
        f"the served version is {served or 'not known yet'} (use it, or /v2/models/{model[:SHOWN_CHARS]})"
    )


class VersionRoutes:
    """ASGI middleware: versioned routes of the served version reach the unversioned ones.

    Args:
        app: The application.
        served_version: The version this server serves now (it can learn it late: the transformer
            takes it from the predictor's first answer when no model wheel is installed).
    """

    def __init__(self, app: ASGIApp, served_version: Callable[[], str | None]) -> None:
        self.app = app
        self.served_version = served_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/models/"):
            await self.app(scope, receive, send)
            return
        model, version, rest, scope = self._unversioned(scope)
        if version is None:
            await self.app(scope, receive, send)
            return
        served = self.served_version()
        if version != served:
            await send_error(send, 404, not_served(model, version, served))
            return
        await self.app({**scope, "path": f"/v2/models/{model}{rest}", "raw_path": None}, receive, send)

    @staticmethod
    def _unversioned(scope: Scope) -> tuple[str, str | None, str, Scope]:
        """The model, the version named (or None) and the rest of the path; the query without it."""
        path: str = scope["path"]
        match = _VERSIONED_PATH.match(path)
        if match:
            return match.group(1), match.group(2), match.group(3) or "", scope
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        versions = [value for key, value in query if key == "model_version"]
        if not versions:
            return "", None, "", scope
        model, _, rest = path.removeprefix("/v2/models/").partition("/")
        kept = urlencode([(key, value) for key, value in query if key != "model_version"]).encode("latin-1")
        return model, versions[0], f"/{rest}" if rest else "", {**scope, "query_string": kept}
