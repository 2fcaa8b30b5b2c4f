# Everything installs itself: a fresh clone needs only python3, npm and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$(PATH)

.PHONY: install tools lint typecheck test unit demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $@

$(TOOLS)/kubectl $(TOOLS)/helm: scripts/fetch-tools.sh
	bash scripts/fetch-tools.sh .tools

install: $(VENV)/.installed
tools: $(TOOLS)/kubectl $(TOOLS)/helm

lint: install
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

typecheck: install
	$(BIN)/mypy

test: install tools lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadfile

unit: install
	$(BIN)/pytest -q tests/unit

demo: install tools
	$(BIN)/agentcore-operator demo

bench: install tools
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/failover.py
	$(BIN)/python bench/fairness.py
	$(BIN)/python bench/claims.py
	$(BIN)/python bench/pools.py
	$(BIN)/python bench/accounts.py
	$(BIN)/python bench/aws_http.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
