# The project's front door. Every target creates .venv/ from the package registries on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Training and wheel building always run from the source tree, even after `make run` installed a wheel.
SRC_ENV := PYTHONPATH=$(CURDIR)/case_model/src
# Every package of the project, each with its own pyproject.toml; installed editable for development.
PACKAGES := case_signing case_model[train] case_serving[kserve] case_language[service] case_feedback[service] transformer predictor case_batch case_rollout
DATA := data
DIST := dist
INDEX_PORT ?= 8090
INDEX_DIR ?= $(DIST)/index
# Model signing: every model wheel is signed, and every service, job and image build verifies it.
# Here a development key pair in .keys/ (made on first use, never committed); a release sets
# MODEL_SIGNING_KEY to its secret key and MODEL_SIGNING_PUBLIC_KEY to the public half.
KEYS := .keys
MODEL_SIGNING_KEY ?= $(CURDIR)/$(KEYS)/model-signing.key
export MODEL_SIGNING_PUBLIC_KEY ?= $(CURDIR)/$(KEYS)/model-signing.pub

.PHONY: venv model run test check tools lint security bench index publish demo-data batch clean constraints images dockerfiles keys lock token

venv: $(STAMP)

# Every virtualenv the project makes (.venv, .venv-*, each image's, the retraining image's) is created
# by docker/venv.sh: it first installs the installer itself, pip at the version and hash of
# locks/installer.txt, and only then the environment's lock with it. The machine's or the base
# image's own pip never installs a lock: pip before 23.3 (Python 3.11's bundled pip is 23.2.1)
# resolves an extra such as kserve's uvicorn[standard] against the index in --require-hashes mode
# and takes the newest release instead of the locked one (pypa/pip#12345), so an upstream release
# broke every install. pip, not uv: the locks are pip requirement files and every base image has a
# pip to bootstrap it by hash; 26.3 is the release the locks were compiled for, and keeps the locked
# pin for an extra. tests/delivery/test_installer.py holds it against a decoy release.
NEW_VENV := sh docker/venv.sh

# Every third-party package by version and hash (locks/dev.txt, make lock), installed by the pinned
# installer; then the project's own packages, editable, without dependencies (the lock holds them
# all; pip check proves it).
$(STAMP): pyproject.toml $(wildcard */pyproject.toml) locks/dev.txt locks/installer.txt docker/venv.sh
	PYTHON=$(PYTHON) $(NEW_VENV) $(VENV) locks/dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation $(foreach p,$(PACKAGES),-e "./$(p)")
	$(PY) -m pip check
	touch $(STAMP)

$(DATA)/cases.parquet: | $(STAMP)
	$(SRC_ENV) $(PY) -m case_model.training.cli demo-data --out $(DATA)

demo-data: $(DATA)/cases.parquet

## make keys: development key pairs in .keys/: model signing, and the token issuer the local stack trusts
keys: $(KEYS)/model-signing.key $(KEYS)/token-issuer.key

$(KEYS)/model-signing.key: | $(STAMP)
	$(PY) -m case_signing keygen $(KEYS)

$(KEYS)/token-issuer.key: | $(STAMP)
	$(PY) -m dev.tokens keygen $(KEYS)

## make token ROLE=crm SUBJECT=crm-1: a one-hour token the local stack trusts (roles: crm, agent, service, privacy, reader)
ROLE ?= crm
SUBJECT ?= $(ROLE)-1
token: $(KEYS)/token-issuer.key
	@$(PY) -m dev.tokens mint --role "$(ROLE)" --subject "$(SUBJECT)"

## make model: build the demo model wheel into dist/ (signed); a change to the model package builds the next version
MODEL_SOURCES := $(shell find case_model/src -name '*.py' -not -path '*/_artifact/*') case_model/pyproject.toml
model: $(DIST)/.model-built

# The stamp holds the path of the wheel just built: make publish uploads exactly that one.
$(DIST)/.model-built: $(MODEL_SOURCES) $(DATA)/cases.parquet | $(KEYS)/model-signing.key
	$(SRC_ENV) $(PY) -m case_model.training.cli train --data $(DATA)/cases.parquet \
		--validation $(DATA)/validation.parquet --feedback $(DATA)/feedback.csv --out $(DIST) --synthetic \
		--built-file $@ --signing-key $(MODEL_SIGNING_KEY)

## make dockerfiles: write the six Dockerfiles from their one template (dev/dockerfiles.py)
dockerfiles: $(STAMP)
	$(PY) -m dev.dockerfiles

## make images: the six images from the Dockerfiles (Docker if an engine runs, else podman), for the wheel make model built
images: model tools
	$(PY) -m dev.images

## make run: the local stack (language service, predictor, transformer)
run: model $(KEYS)/token-issuer.key
	$(PY) -m dev

## make test: lint and type checks, then the whole offline suite with coverage (floor in pyproject.toml)
test: lint tools .venv-kubeval/bin/kubernetes-validate keys
	$(PY) -m pytest -n 2 --dist loadgroup --durations=12 --cov --cov-report=term:skip-covered

# Tools from Debian the suite uses (kubectl renders the manifests, Prometheus judges canaries and alerts, podman
# builds and runs the images where no Docker engine runs); tests skip,
# saying why, without them.
tools:
	@command -v kubectl >/dev/null || (apt-get update -qq && apt-get install -y -qq kubernetes-client >/dev/null) \
		|| echo "kubectl unavailable: the manifest tests will be skipped"
	@command -v prometheus >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
		|| echo "prometheus unavailable: the canary analysis tests will be skipped"
	@if ! (command -v docker && docker info) >/dev/null 2>&1 && ! (command -v podman && command -v runc && command -v debootstrap) >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq podman runc debootstrap >/dev/null) \
		|| echo "no container engine: the container test will be skipped"; fi

## make check: the loop of about a minute: lint, types and the in-process tests (no service processes)
check: lint keys
	$(PY) -m pytest -m "not slow" -n 2 -q --no-cov -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## make security: bandit, hadolint, wheel verification, SBOM, pip-audit (says when it cannot run)
# The model wheel first (make model): the security stage verifies the wheel that ships, never skips it.
security: model .venv-checkov/bin/checkov tools
	bash .ci/security

# checkov in a virtualenv of its own: its pinned dependencies conflict with the project's.
.venv-checkov/bin/checkov: locks/checkov.txt locks/installer.txt
	PYTHON=$(PYTHON) $(NEW_VENV) .venv-checkov locks/checkov.txt

## make bench: the benchmark table
bench: model keys .venv-mlserver/bin/mlserver
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench
	$(PY) -m bench.batch_throughput

# kubernetes-validate in a virtualenv of its own: beside the services the kubernetes client
# imports it at start-up (1.2 s of every cold start). Used by tests/manifests.
.venv-kubeval/bin/kubernetes-validate: locks/kubeval.txt locks/installer.txt
	PYTHON=$(PYTHON) $(NEW_VENV) .venv-kubeval locks/kubeval.txt

# MLServer (an alternative in the benchmark) in a virtualenv of its own: it pins an older FastAPI.
# The model file is unpickled there, so scikit-learn and its stack are pinned to ours.
.venv-mlserver/bin/mlserver: locks/mlserver.txt locks/installer.txt
	PYTHON=$(PYTHON) $(NEW_VENV) .venv-mlserver locks/mlserver.txt
	touch $@

## make batch: the Ray batch pipeline on the demo data, from the installed (signed) model wheel
batch: model
	$(PY) -m dev.install
	$(PY) -m case_batch --input $(DATA)/validation.parquet --output $(DIST)/predictions.parquet

## make index: a local private package index (pypiserver) on 127.0.0.1:$(INDEX_PORT)
index: $(STAMP)
	mkdir -p $(INDEX_DIR)
	$(VENV)/bin/pypi-server run -i 127.0.0.1 -p $(INDEX_PORT) -a . -P . $(INDEX_DIR)

## make publish: upload the wheel last built (make model, or case-model train --built-file $(DIST)/.model-built)
## to $(MODEL_INDEX_URL), credentials from TWINE_USERNAME/TWINE_PASSWORD; it never trains
publish: $(STAMP)
	@test -s $(DIST)/.model-built || { echo "no wheel recorded in $(DIST)/.model-built: build one first (make model)" >&2; exit 2; }
	@url="$${MODEL_INDEX_URL:-http://127.0.0.1:$(INDEX_PORT)/}"; $(PY) docker/wheel_hash.py --check-index "$$url" && \
		$(VENV)/bin/twine upload --non-interactive --repository-url "$$url" "$$(cat $(DIST)/.model-built)"

clean:
	rm -rf $(DIST) $(DATA) .pytest_cache .ruff_cache

## make lock: the hashed locks of every environment (images, dev and CI, the CI tools) with uv, at
## the versions constraints.txt pins
lock:
	$(PY) -m dev.lock

## make constraints: re-pin every dependency from the current .venv
constraints: $(STAMP)
	(echo "# Exact versions for every environment (dev venv, images, CI). Regenerate: make constraints"; \
	 $(PY) -m pip freeze --exclude-editable | grep -v "^-e\|case[-_]model\|case[-_]classifier" | sort -f) > constraints.txt
