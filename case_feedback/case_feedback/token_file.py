"""The bearer token a client of the feedback service presents, read from a file.

On a cluster the file is a projected service-account token: Kubernetes writes a new one before
the old expires (audience ``case-feedback``, an hour), so the file is read again whenever it
changed rather than once at start. Locally ``make run`` writes a development token there.
"""

from __future__ import annotations

import os
from pathlib import Path


class TokenFile:
    """The token in ``path``, re-read when the file's modification time or size changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._token = ""

    def authorization(self) -> str:
        """The ``Authorization`` header value: ``Bearer <token>``.

        Raises:
            OSError: the file cannot be read (the caller retries later, as for a network error).
        """
        stat = os.stat(self.path)
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._token = self.path.read_text(encoding="utf-8").strip()
            self._seen = seen
        return f"Bearer {self._token}"
