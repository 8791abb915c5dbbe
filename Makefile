# pybgp: `make demo` runs the main job, `make test` runs the whole suite (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DAEMONS := bird2 frr gobgpd exabgp tcpdump

# the modules compiled with mypyc (pyproject.toml [tool.pybgp] compiled; see setup.py)
COMPILED := $(shell sed -n '/^compiled = \[/,/^\]/s/^ *"\(.*\)",*/\1/p' pyproject.toml)
PURE := $(CURDIR)/build/pure

.PHONY: setup demo daemons lint test test-fast test-pure bench clean conformance-matrix

setup: $(VENV)/.installed $(VENV)/.compiled

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

# Same source, compiled.  A failed build removes the extensions, so that pybgp runs as
# pure Python (in CI it fails instead); `rm .venv/.compiled` retries it.
$(VENV)/.compiled: $(VENV)/.installed setup.py $(COMPILED)
	@if PYBGP_COMPILE=1 $(BIN)/python setup.py -q build_ext --inplace >build-mypyc.log 2>&1; then \
	  find pybgp rib -name '*.so' -exec touch {} +; \
	else \
	  find pybgp rib -name '*.so' -delete; \
	  if [ -n "$$CI" ]; then cat build-mypyc.log; exit 1; fi; \
	  echo "pybgp: the mypyc build failed (build-mypyc.log); pybgp runs as pure Python"; \
	fi
	@# (build_ext keeps an unchanged extension's old time: the touch above)
	@# bytecode as an installed package has it, also where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q pybgp rib ecmp lbnode >/dev/null
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
	PYBGP_EXPECT_COMPILED=1 $(BIN)/python -m pytest -q
	$(MAKE) test-pure

# The unit tests again on the pure-Python source (a copy without the compiled modules).
test-pure: setup
	rm -rf $(PURE) && mkdir -p $(PURE)
	tar --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.so' -cf - . \
	  | tar -xf - -C $(PURE)
	cd $(PURE) && PYBGP_EXPECT_PURE=1 $(CURDIR)/$(BIN)/python -m pytest -q -m "not lab" \
	  -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest -q -m "not lab"

# Run `pybgp conformance` against pybgp, BIRD, FRR, GoBGP and ExaBGP (root, namespaces)
# and rewrite docs/conformance.md and docs/conformance-matrix.json.
conformance-matrix: setup daemons
	$(BIN)/python -m tests.lab.conformance_matrix

bench: setup
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build build-mypyc.log
	find pybgp rib ecmp lbnode . -maxdepth 3 -name '*.so' -delete
