# kbchat: `make run` sets up and runs the product, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# On a machine without the local CPU wheel of torch, point this at PyTorch's CPU index to
# avoid a multi-GB CUDA build, e.g. make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
HOST ?= $(or $(KBCHAT_UI_HOST),127.0.0.1)
PORT ?= $(or $(KBCHAT_UI_PORT),8501)

.PHONY: run test coverage lint bench ingest ui clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kbchat needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llama.cpp is compiled for a portable x86-64 level (AVX2/FMA/F16C), not -march=native: a
# native build on a CPU with AMX segfaulted on its first prompt here (the native build enables
# ggml's AMX kernels; the portable one does not, and runs). The wheel is kept per flag set and reused across clones;
# LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON" builds for the exact CPU instead.
LLAMA_VERSION    := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS     := $(HOME)/.cache/kbchat/llama-wheels/$(shell echo '$(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
	    echo "Compiling llama.cpp $(LLAMA_VERSION) ($(LLAMA_CMAKE_ARGS)): several minutes, once per machine"; \
	    CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-deps --no-cache-dir \
	        --no-binary llama-cpp-python -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION); }
	$(PIP) install --quiet --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@

ingest: $(VENV)/.installed
	$(BIN)/kbchat ingest

run: ingest
	$(BIN)/python -m kbchat.signin --address '$(HOST)'
	@echo "kbchat UI on http://$(HOST):$(PORT) (Ctrl-C stops it)"
	$(BIN)/python -m streamlit run app/main.py --server.address $(HOST) --server.port $(PORT)

ui: $(VENV)/.installed
	$(BIN)/python -m kbchat.signin --address '$(HOST)'
	$(BIN)/python -m streamlit run app/main.py --server.address $(HOST) --server.port $(PORT)

# The end-to-end tests drive Debian's Chromium (a test tool's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
	    echo "The end-to-end tests need Chromium at $(CHROMIUM): sudo apt-get install chromium" >&2; \
	    exit 1; \
	fi

# Two pytest workers (pytest-xdist), each test file whole on one worker so that a file's
# shared fixtures are built once; TEST_WORKERS=0 runs in one process. Files are handed out in
# path order, not xdist's default of most tests first: that put the files with few but slow
# tests (the browser and model ones) last, and one worker ran them while the other waited.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/ruff check kbchat ingest vectorstore app tests benchmarks scripts
	$(BIN)/ruff format --check kbchat ingest vectorstore app tests benchmarks scripts
	$(BIN)/mypy
	$(PYTEST)

# The suite with line coverage of the four layers (pytest-cov), a table per file.
coverage: $(VENV)/.installed-dev $(CHROMIUM)
	$(PYTEST) --cov=kbchat --cov=ingest --cov=vectorstore --cov=app --cov-report=term

# Every benchmarks/[!_]*.py, then one table of headline figures (BENCH_ARGS=--readme also
# writes it into README.md; BENCH_ARGS="--only ui_memory" runs a subset).
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/_suite.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data vectorstore/data
