# pybgp: `make demo` runs the main job, `make test` runs the whole suite (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DAEMONS := bird2 frr gobgpd exabgp tcpdump

.PHONY: setup demo daemons lint test test-fast bench clean conformance-matrix

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

demo: setup
	$(BIN)/pybgp demo

# The lab tests peer with real BIRD 2, FRR, GoBGP and ExaBGP (Debian packages).
daemons:
	@missing=""; \
	for p in $(DAEMONS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not root: lab tests will skip (missing:$$missing)"; fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pybgp rib ecmp lbnode
	$(BIN)/mypy

test: setup daemons lint
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not lab"

# Run `pybgp conformance` against pybgp, BIRD, FRR, GoBGP and ExaBGP (root, namespaces)
# and rewrite docs/conformance.md and docs/conformance-matrix.json.
conformance-matrix: setup daemons
	$(BIN)/python -m tests.lab.conformance_matrix

bench: setup
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
