# recvault: every target creates .venv when missing and installs into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: run test test-slow bench lint fmt clean compose-cli chromium ceph oidc-provider

$(BIN)/python:
	$(PY) -m venv $(VENV)

# `make run` installs only what the service needs (fast first start);
# the test extras come with the first `make test`/`lint`/`bench`.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev,test]'
	touch $(TEST_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/recvault dev $(ARGS)

# tests/cli/test_compose.py renders docker-compose.yml with docker-compose
# (Debian's package, compose v1 or the v2 plugin; no Docker engine needed).
compose-cli:
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "docker-compose is missing: apt-get install -y docker-compose (as root)" >&2; exit 1; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose; }

# tests/console/ drive Debian's Chromium through Playwright (no browser is downloaded).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "chromium is missing: apt-get install -y chromium (as root)" >&2; exit 1; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }

# tests/storage/test_s3_ceph.py (slow) runs a single-node Ceph RADOS Gateway from
# Debian's packages (ADR 0015, docs/deploy/ceph-rgw.sh).
ceph:
	@command -v radosgw >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "ceph is missing: apt-get install -y ceph-mon ceph-osd radosgw (as root)" >&2; exit 1; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    ceph-mon ceph-osd radosgw; }

# tests/oidc: the single sign-on tests run a real OpenID provider, the npm package
# oidc-provider pinned in tests/oidc/package-lock.json (Debian's nodejs and npm).
OIDC_MODULES := tests/oidc/node_modules/.package-lock.json
$(OIDC_MODULES): tests/oidc/package.json tests/oidc/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "npm is missing: apt-get install -y nodejs npm (as root)" >&2; exit 1; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; }
	cd tests/oidc && npm ci --no-audit --no-fund
	touch $(OIDC_MODULES)

oidc-provider: $(OIDC_MODULES)

test: $(TEST_STAMP) compose-cli chromium $(OIDC_MODULES)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

test-slow: $(TEST_STAMP) compose-cli chromium ceph $(OIDC_MODULES)
	$(BIN)/python -m pytest -q -m slow

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

lint: $(TEST_STAMP)
	$(BIN)/ruff check vault keys api tests bench
	$(BIN)/ruff format --check vault keys api
	$(BIN)/mypy

fmt: $(TEST_STAMP)
	$(BIN)/ruff format vault keys api tests bench
	$(BIN)/ruff check --fix vault keys api tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/oidc/node_modules
