# Setup is two commands on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lab test train release clean

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
# nbgrader runs `alembic` from PATH, hence the venv's bin first.
ASSIGNMENTS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard solutions/*/*.ipynb)))))
release: $(STAMP)
	@for a in $(ASSIGNMENTS); do \
	  PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/nbgrader generate_assignment "$$a" --force || exit 1; \
	done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
