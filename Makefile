# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installing compiles the core with mypyc (setup.py), so a changed core source reinstalls;
# the old extensions go first, as one left behind would shadow a module no longer compiled.
COMPILED_CORE = callpulse/*.so *__mypyc*.so
$(STAMP): $(BIN)/python pyproject.toml setup.py $(wildcard callpulse/*.py)
	rm -f $(COMPILED_CORE)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The whole system on embedded defaults (broker, Redis, worker, simulator); Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/callpulse demo

# Debian packages the tests need (Chromium for the wallboard's end-to-end tests); as root.
system-deps:
	./scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory lint

lint: $(STAMP)
	$(BIN)/ruff check callpulse streams producers monitor_ui launcher tests benchmarks setup.py
	$(BIN)/mypy

# Peers (Quix Streams) come from the [bench] extra; the worker benchmarks start their own
# embedded broker and Redis.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_replay.py
	$(BIN)/python benchmarks/bench_memory.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_worker.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_views.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_latency.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_worker_memory.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_wallboard.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(COMPILED_CORE)
