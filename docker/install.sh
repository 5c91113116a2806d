#!/bin/sh
# Install one deployable into a virtualenv: the model wheel by version from the (private) model
# index, then the service and its dependencies, every version pinned by constraints.txt.
# The Dockerfiles run this; tests/delivery/test_images.py replays it in a clean virtualenv.
#
#   VENV=/opt/venv MODEL_VERSION=1.2.0 MODEL_INDEX_URL=https://index.example/simple/ docker/install.sh serving
#
# role: serving (predictor, transformer), langdetect, batch. Index credentials are never
# arguments: pip reads them from ~/.netrc, which the Dockerfiles mount as a build secret.
set -eu
role="$1"
: "${VENV:=/opt/venv}"
: "${MODEL_VERSION:?MODEL_VERSION is required}"
: "${MODEL_INDEX_URL:?MODEL_INDEX_URL is required}"
here="$(cd "$(dirname "$0")/.." && pwd)"
case "$role" in
  serving) extra="" ;;
  langdetect) extra="[langdetect]" ;;
  batch) extra="[langdetect,batch]" ;;
  *) echo "unknown role: $role" >&2; exit 2 ;;
esac
pip_install() { "$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$@"; }

python3 -m venv "$VENV"
# The model wheel from the model index only, without dependencies: no other index can supply a
# package named case-model (dependency confusion).
pip_install --no-deps --index-url "$MODEL_INDEX_URL" "case-model==${MODEL_VERSION}"
# Everything else from the public registry, at the pinned versions; case-model is already there.
pip_install -c "$here/constraints.txt" hatchling
pip_install --no-build-isolation -c "$here/constraints.txt" "${here}${extra}"
"$VENV/bin/python" -c "import case_model; m = case_model.verify(); assert m['model_version'] == '${MODEL_VERSION}'"
