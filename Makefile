# `make test` and `make demo` work on a fresh machine: they create the virtual environment and install
# everything first. HF_HUB_OFFLINE=1: nothing here downloads models; tests build their own tiny ones.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
export HF_HUB_OFFLINE := 1

.PHONY: test test-fast demo bench eval finetune-examples install llama-cpp clean

# The browser test of the JupyterLab extension (tests/test_lab_browser.py) runs Debian's Chromium, headless; a
# browser download of a test tool's own does not work here. Installed once, as root (CI and developers are root).
CHROMIUM := /usr/bin/chromium

# A real third-party OpenAI-compatible server for the remote engine's tests: llama-cpp-python has no Linux
# wheel on PyPI, so it is built from source once (about 4 minutes on 2 cores) into its own venv; its sdist also
# carries llama.cpp's converter, which turns a tiny test model into GGUF.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_VENV := .venv-llama
LLAMA_SRC := .cache/llama_cpp_python-$(LLAMA_CPP_VERSION)
LLAMA_STAMP := $(LLAMA_VENV)/.installed-$(LLAMA_CPP_VERSION)

# `pip install` also builds the JupyterLab extension (labextension/, with Node.js 20+ and the npm registry).
# The extension's sources are prerequisites too: the built extension is copied into the venv at install time.
$(STAMP): pyproject.toml labextension/package.json $(wildcard labextension/src/*.ts labextension/style/* labextension/schema/*)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

$(LLAMA_STAMP):
	$(PYTHON) -m venv $(LLAMA_VENV)
	mkdir -p .cache
	$(LLAMA_VENV)/bin/pip download --quiet --no-deps --no-binary :all: -d .cache llama-cpp-python==$(LLAMA_CPP_VERSION)
	tar -xzf $(LLAMA_SRC).tar.gz -C .cache
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(LLAMA_VENV)/bin/pip install --quiet "llama-cpp-python[server] @ file://$(abspath $(LLAMA_SRC).tar.gz)"
	touch $@

llama-cpp: $(LLAMA_STAMP)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## Every test, the slow end-to-end ones included (what CI runs).
test: $(STAMP) $(LLAMA_STAMP) $(CHROMIUM)
	CODEGEN_LLAMA_CPP_PYTHON=$(abspath $(LLAMA_VENV)/bin/python) \
	CODEGEN_LLAMA_CPP_SOURCE=$(abspath $(LLAMA_SRC)/vendor/llama.cpp) \
	$(PY) -m pytest -ra

## The fast unit tests only.
test-fast: $(STAMP)
	$(PY) -m pytest -ra -m "not slow"

## Runs notebooks/demo.ipynb headless and prints the cells the model generated.
demo: $(STAMP)
	$(PY) notebooks/run_demo.py

## Speed benchmark (see benchmarks/README.md); not part of the tests.
bench: $(STAMP)
	$(PY) benchmarks/speed.py

## The quality harnesses of the model card (model/README.md) on MODEL (default: the embedded model), about
## 40 minutes on 2 idle cores; results in benchmarks/results/*-$(NAME).*. Not part of the tests.
MODEL ?= default
NAME ?= embedded
eval: $(STAMP)
	$(PY) benchmarks/eval_data_exploration.py --model $(MODEL) --name $(NAME)
	$(PY) benchmarks/eval_synthetic.py --model $(MODEL) --name $(NAME) --n 200
	$(PY) benchmarks/eval_infilling.py --model $(MODEL) --name $(NAME) --methods left-to-right infill --limit single=all multi=200 random=200
	$(PY) benchmarks/eval_infilling.py --model $(MODEL) --name $(NAME)-rerank --methods rerank --limit single=300 multi=50 random=50
	$(PY) benchmarks/eval_mtpb.py --model $(MODEL) --name $(NAME) --inputs 1
	$(PY) benchmarks/eval_bits_per_byte.py --model $(MODEL) --name $(NAME)
	$(PY) benchmarks/latency_default.py --model $(MODEL)

## The README's fine-tuning run: notebooks/finetune.ipynb on notebooks/examples with the embedded model (about 5
## minutes on 2 cores); the executed notebook, its loss plot and the model land in .cache/finetune-examples.
FINETUNE_RUN := .cache/finetune-examples
finetune-examples: $(STAMP)
	mkdir -p $(FINETUNE_RUN)
	$(VENV)/bin/papermill notebooks/finetune.ipynb $(FINETUNE_RUN)/run.ipynb --cwd $(FINETUNE_RUN) \
		-p notebooks_folder $(abspath notebooks/examples) -p out $(abspath $(FINETUNE_RUN)/out) -p threads 2
	@echo "loss plot: $(FINETUNE_RUN)/out/loss.png (docs/finetune-loss.png is the README's copy)"

clean:
	rm -rf $(VENV) $(LLAMA_VENV) .cache .pytest_cache build dist *.egg-info labextension/node_modules labextension/lib jupyter_codegen/labextension
