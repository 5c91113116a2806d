#!/bin/sh
# Install one deployable into a virtualenv: the model wheel by version from the (private) model
# index, then the deployable and the project packages it needs, every version pinned by
# constraints.txt. The Dockerfiles run this; tests/delivery/test_images.py replays it.
#
#   VENV=/opt/venv MODEL_VERSION=1.2.0 MODEL_INDEX_URL=https://index.example/simple/ docker/install.sh transformer
#
# The deployable is a package directory, with extras where it needs them: transformer, predictor,
# "case_language[service]", case_batch. Which other project packages it needs is read from the
# pyproject.toml files (docker/local_packages.py). Index credentials are never arguments: pip reads
# them from ~/.netrc, which the Dockerfiles mount as a build secret.
set -eu
deployable="$1"
: "${VENV:=/opt/venv}"
: "${MODEL_VERSION:?MODEL_VERSION is required}"
: "${MODEL_INDEX_URL:?MODEL_INDEX_URL is required}"
here="$(cd "$(dirname "$0")/.." && pwd)"
pip_install() { "$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$@"; }

python3 -m venv "$VENV"
# The model wheel from the model index only, without dependencies: no other index can supply a
# package named case-model (dependency confusion). With KEEP_MODEL_WHEEL (a directory) the wheel
# file is kept there too: the retraining image scores the new model against it (the champion).
if [ -n "${KEEP_MODEL_WHEEL:-}" ]; then
    "$VENV/bin/pip" download --no-cache-dir --disable-pip-version-check --quiet --no-deps \
        --index-url "$MODEL_INDEX_URL" --dest "$KEEP_MODEL_WHEEL" "case-model==${MODEL_VERSION}"
    pip_install --no-deps "$KEEP_MODEL_WHEEL/case_model-${MODEL_VERSION}-py3-none-any.whl"
else
    pip_install --no-deps --index-url "$MODEL_INDEX_URL" "case-model==${MODEL_VERSION}"
fi
# Everything else from the public registry, at the pinned versions; case-model is already there.
pip_install -c "$here/constraints.txt" hatchling
packages="$(cd "$here" && python3 docker/local_packages.py "$deployable")"
(cd "$here" && pip_install --no-build-isolation -c constraints.txt $packages)
"$VENV/bin/python" -c "import case_model; m = case_model.verify(); assert m['model_version'] == '${MODEL_VERSION}'"
