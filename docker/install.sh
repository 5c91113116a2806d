#!/bin/sh
# Install one deployable into a virtualenv: the model wheel from the (private) model index, pinned
# by version AND hash and verified by its signature before pip installs it, then the deployable and
# the project packages it needs, with every dependency pinned by hash (locks/<lock>.txt). The
# Dockerfiles run this; tests/delivery/test_images.py replays it.
#
#   VENV=/opt/venv MODEL_VERSION=1.2.0 MODEL_WHEEL_SHA256=<from the index> \
#   MODEL_INDEX_URL=https://index.example/simple/ MODEL_SIGNING_PUBLIC_KEY="$(cat release.pub)" \
#   LOCK=transformer docker/install.sh transformer
#
# The deployable is a package directory, with extras where it needs them: transformer, predictor,
# "case_language[service]", case_batch. Which other project packages it needs is read from the
# pyproject.toml files (docker/local_packages.py). Index credentials are never arguments: pip reads
# them from ~/.netrc, which the Dockerfiles mount as a build secret.
#
# The retraining image keeps wheel files to score a new model against, never installed:
#   KEEP_MODEL_WHEEL=<dir>   the model wheel's file (the champion: the production model)
#   KEEP_ANCHOR_WHEEL=<dir>  the anchor's file (the first approved model of the current line): the
#                            wheel ANCHOR_VERSION names, by ANCHOR_WHEEL_SHA256, from the same index
#                            and checked against the same key as the model wheel; with no
#                            ANCHOR_VERSION the model wheel itself (the first image of a new line).
set -eu
deployable="$1"
: "${VENV:=/opt/venv}"
: "${MODEL_VERSION:?MODEL_VERSION is required}"
: "${MODEL_INDEX_URL:?MODEL_INDEX_URL is required}"
: "${MODEL_WHEEL_SHA256:?MODEL_WHEEL_SHA256 is required: the wheel is installed by hash only}"
: "${MODEL_SIGNING_PUBLIC_KEY:?MODEL_SIGNING_PUBLIC_KEY (the release key, PEM) is required}"
: "${LOCK:?LOCK (the hashed lock file of this image, locks/<LOCK>.txt) is required}"
here="$(cd "$(dirname "$0")/.." && pwd)"
pip() { "$VENV/bin/pip" --no-cache-dir --disable-pip-version-check --quiet "$@"; }
work="$(mktemp -d)"

# 0. The virtualenv, with the installer pinned by version and hash (docker/venv.sh): the base
#    image's own pip never installs a lock.
sh "$here/docker/venv.sh" "$VENV"
# 1. The model wheel: from the model index only (no other index can supply a package named
#    case-model), by version and hash, first: a file the index replaced fails the build at once.
#    KEEP_MODEL_WHEEL (a directory) keeps the wheel file: the retraining image scores the new
#    model against it (the champion).
printf 'case-model==%s --hash=sha256:%s\n' "$MODEL_VERSION" "$MODEL_WHEEL_SHA256" > "$work/model.txt"
"$VENV/bin/pip" download --no-cache-dir --disable-pip-version-check --quiet --no-deps --require-hashes \
    --index-url "$MODEL_INDEX_URL" --dest "${KEEP_MODEL_WHEEL:-$work}" -r "$work/model.txt"
wheel="${KEEP_MODEL_WHEEL:-$work}/case_model-${MODEL_VERSION}-py3-none-any.whl"
#    The anchor, pinned the same way and fetched now for the same reason. Named apart from the
#    champion, because the champion moves every release while the anchor stays put for a line:
#    the gate compares with both, so small losses that each pass against the last champion
#    cannot add up. Without ANCHOR_VERSION the champion is the anchor (a new line starts there).
anchor=""
if [ -n "${KEEP_ANCHOR_WHEEL:-}" ]; then
    mkdir -p "$KEEP_ANCHOR_WHEEL"
    if [ -n "${ANCHOR_VERSION:-}" ]; then
        : "${ANCHOR_WHEEL_SHA256:?ANCHOR_WHEEL_SHA256 is required with ANCHOR_VERSION: the anchor is fetched by hash only}"
        printf 'case-model==%s --hash=sha256:%s\n' "$ANCHOR_VERSION" "$ANCHOR_WHEEL_SHA256" > "$work/anchor.txt"
        "$VENV/bin/pip" download --no-cache-dir --disable-pip-version-check --quiet --no-deps --require-hashes \
            --index-url "$MODEL_INDEX_URL" --dest "$KEEP_ANCHOR_WHEEL" -r "$work/anchor.txt"
        anchor="$KEEP_ANCHOR_WHEEL/case_model-${ANCHOR_VERSION}-py3-none-any.whl"
    elif [ -n "${ANCHOR_WHEEL_SHA256:-}" ]; then
        echo "ANCHOR_WHEEL_SHA256 without ANCHOR_VERSION: name the anchor's version, or neither for a new line" >&2
        exit 2
    else
        cp "$wheel" "$KEEP_ANCHOR_WHEEL/"
    fi
fi
# 2. Every third-party package, each by version and hash: pip refuses a file whose hash differs.
#    (The lock is installed here, not by docker/venv.sh, so that the model wheel comes first.)
pip install --require-hashes -r "$here/locks/$LOCK.txt"
# 3. The project's packages themselves (their dependencies are all in the lock), the signature
#    checker among them: code from this repository, never from the model index.
packages="$(cd "$here" && python3 docker/local_packages.py "$deployable")"
(cd "$here" && pip install --no-deps --no-build-isolation $packages)
# 4. The wheel's signature, before pip installs it and before any of its code can run.
printf '%s\n' "$MODEL_SIGNING_PUBLIC_KEY" > "$work/model-signing.pub"
"$VENV/bin/python" -m case_signing verify-wheel "$wheel" --public-key "$work/model-signing.pub"
if [ -n "$anchor" ]; then
    "$VENV/bin/python" -m case_signing verify-wheel "$anchor" --public-key "$work/model-signing.pub"
fi
pip install --no-deps "$wheel"
# 5. The release key, fixed in the image: every check in the pod verifies with this file and
#    refuses any other key named at run time (case_signing.keys.image_key_path).
mkdir -p "$VENV/share/case-classifier"
cp "$work/model-signing.pub" "$VENV/share/case-classifier/model-signing.pub"
chmod 0444 "$VENV/share/case-classifier/model-signing.pub"
# 6. What runs in the pod, checked once more as the pod will: the installed package, then the lot.
"$VENV/bin/python" -m case_signing verify-installed --public-key "$work/model-signing.pub"
"$VENV/bin/pip" check
"$VENV/bin/python" -c "import case_model; m = case_model.verify(); assert m['model_version'] == '${MODEL_VERSION}'"
# 7. Every module of the deployable imports against this wheel: the wheel carries code the services
#    call, so a wheel older than a name they need fails the build here, not the pod at its start.
"$VENV/bin/python" "$here/docker/imports.py" "$deployable"
rm -rf "$work"
