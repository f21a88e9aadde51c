# Every target that needs Python creates .venv and installs the project first, so each
# works alone on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The pure resolution core of srcip.clientip, held to 100 % branch coverage like the model.
CLIENTIP_CORE := src/srcip/clientip/addresses.py,src/srcip/clientip/trust.py,src/srcip/clientip/forwarded.py,src/srcip/clientip/resolve.py,src/srcip/clientip/presets.py,src/srcip/clientip/explain.py

.PHONY: install check test demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "srcip needs Python >= 3.11" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check
	$(BIN)/python -m pytest -q -p no:cacheprovider --cov --cov-report=term
	$(BIN)/coverage report --fail-under=100 \
	    --include='src/srcip/model/*,src/srcip/proxyproto/*,$(CLIENTIP_CORE)'

demo: $(STAMP)
	@bash examples/seed-echo/demo.sh $(BIN)/srcip

bench: $(STAMP)
	$(BIN)/python bench/route.py
	$(BIN)/python bench/proxyproto.py
	$(BIN)/python bench/clientip.py
	$(BIN)/python bench/echo.py
	$(BIN)/python bench/share.py
	$(BIN)/python bench/lab.py
	$(BIN)/python bench/doctor.py

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache .pytest_cache .hypothesis
