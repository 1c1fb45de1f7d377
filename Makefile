# precode: `make demo` sets everything up and runs the demo batch; `make test` sets up, lints (ruff, mypy) and
# runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch must be the CPU build, pinned. On a machine without a local wheel, point pip at the CPU index:
#   make TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" demo
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export HF_HUB_DISABLE_TELEMETRY = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: setup demo lint test test-slow bench constraints clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[models,test]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/precode run configs/demo.yaml

lint: setup
	$(BIN)/ruff check pipeline bench tests
	$(BIN)/mypy pipeline

test: setup lint
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m "slow or fuzz"

bench: setup
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/agreement.py

constraints:
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' > constraints.txt

clean:
	rm -rf outputs .pytest_cache
