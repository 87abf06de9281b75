# Setup is two commands on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lab test train facades bench gpu-check release screenshots clean

# Create the venv if missing and (re)install the package whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab lessons/

test: $(STAMP)
	$(PY) -m pytest

# Regenerate lessons/ (the student notebooks) from solutions/ with nbgrader; commit the result.
# Then record what decides grades (.grading/: SHA-256 per file, a pristine copy of p2p_ref).
# nbgrader runs `alembic` from PATH, hence the venv's bin first.
ASSIGNMENTS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard solutions/*/*.ipynb)))))
release: $(STAMP)
	@for a in $(ASSIGNMENTS); do \
	  PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/nbgrader generate_assignment "$$a" --force || exit 1; \
	done
	$(PY) -m p2p_ref.course.grading.integrity .

# A few minutes on a 2-core CPU: 80 synthetic facades at 128 x 128, a narrower U-Net (ngf 32),
# 6 epochs (4 + 2 decaying), 480 steps. Override e.g. `make train TRAIN_OUT=runs/again`.
TRAIN_OUT ?= runs/synthetic
TRAIN_ARGS ?= synthetic --load-size 142 --crop-size 128 --num-downs 7 --ngf 32 --ndf 32 \
	--max-train-images 80 --n-epochs 4 --n-epochs-decay 2
train: $(STAMP)
	$(VENV)/bin/p2p-train $(TRAIN_ARGS) --out $(TRAIN_OUT)

# Real CMP facades (labels -> photo), sized for a laptop CPU: 128 x 128 crops (the 286/256 jitter
# scaled: load 143), unet_128 (num_downs 7) and the PatchGAN at width 32, 20 + 10 epochs, a
# checkpoint kept every 5 epochs, then the results figure of the run. Downloads facades (~31 MB)
# first if datasets/facades is missing.
FACADES_OUT ?= runs/facades
FACADES_ARGS ?= facades --load-size 143 --crop-size 128 --num-downs 7 --ngf 32 --ndf 32 \
	--n-epochs 20 --n-epochs-decay 10 --keep-every-epochs 5
facades: $(STAMP)
	test -d datasets/facades/train || $(VENV)/bin/p2p-data download facades
	$(VENV)/bin/p2p-train $(FACADES_ARGS) --out $(FACADES_OUT)
	$(PY) -m p2p_ref.inference.results_figure $(FACADES_OUT) --dataset facades --out $(FACADES_OUT)/facades_results.png

# Baseline vs fast path; on a machine without a GPU pass e.g. BENCH_ARGS="--device cpu --size 128".
BENCH_ARGS ?=
bench: $(STAMP)
	$(VENV)/bin/p2p-bench $(BENCH_ARGS)

# On a machine with a CUDA GPU: prove and measure the fast path (pytest -m cuda, p2p-bench rows, a
# real run of the Colab configuration, p2p-translate latency) in at most 8 minutes, with the
# project's $(VENV) when it exists, else the machine's $(PYTHON), and p2p_ref from this checkout
# (PYTHONPATH=.; installs nothing). Writes runs/gpu-check/gpu-check.json and gpu-check.md; exits 1
# if a check fails, 0 without a GPU or without PyTorch (one line each: torch is checked here,
# before p2p_ref, which imports it). E.g. make gpu-check GPU_CHECK_ARGS="--budget 300".
GPU_CHECK_ARGS ?=
gpu-check:
	@py="$(PYTHON)"; if [ -x "$(PY)" ]; then py="$(PY)"; fi; \
	if ! "$$py" -c "import torch" >/dev/null 2>&1; then \
	  echo "gpu-check: $$py cannot import torch: nothing to check (install PyTorch, or run make venv)"; \
	  exit 0; \
	fi; \
	PYTHONPATH=. "$$py" -m p2p_ref.gpu_check $(GPU_CHECK_ARGS)

# Regenerate the widget screenshots the README shows (needs Debian's chromium). The playground's
# shows the G of `make train` ($(TRAIN_OUT)) when it is there, else a G trained for a few steps.
screenshots: $(STAMP)
	P2P_SCREENSHOT_DIR=docs/img P2P_SCREENSHOT_RUN=$(TRAIN_OUT) $(PY) -m pytest tests/course/widgets/test_browser.py \
	  -k "explorer or playground" -p no:cacheprovider

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
