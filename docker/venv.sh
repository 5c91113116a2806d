#!/bin/sh
# Create (or refresh) a virtualenv whose installer is pinned, then install a lock into it.
#
#   [PYTHON=python3] docker/venv.sh DIR [LOCK_FILE]
#
# Every environment the project makes goes through here: .venv and .venv-* (Makefile), each
# image's venv and the retraining image's (docker/install.sh). Why: the pip a venv starts with is
# whatever the interpreter bundles (Python 3.11's is pip 23.2.1), and pip 23.x resolves an extra
# such as kserve's `uvicorn[standard]` against the index even in --require-hashes mode: a newer
# upstream release, never locked, then fails the install ("all requirements must have their
# versions pinned with =="). So the bundled pip does exactly one thing, which every pip from 8 on
# does right: install the installer of locks/installer.txt by version and hash, with no
# dependencies. The lock itself is installed by that pinned installer, whatever pip the machine
# or the base image has. tests/delivery/test_installer.py holds it against a decoy release.
set -eu
venv="$1"
lock="${2:-}"
here="$(cd "$(dirname "$0")/.." && pwd)"
installer="$here/locks/installer.txt"
pin="$(sed -n 's/^pip==\([^ ]*\).*/\1/p' "$installer")"

"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$installer"
# The installer that will install the lock is the pinned one, or nothing is installed.
found="$("$venv/bin/python" -m pip --version | cut -d' ' -f2)"
if [ "$found" != "$pin" ]; then
    echo "docker/venv.sh: $venv has pip $found, locks/installer.txt pins $pin" >&2
    exit 1
fi
if [ -n "$lock" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
fi
