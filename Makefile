# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint clean

install: $(STAMP)

# pip's own output is kept (no -q) for the two long steps: a first install takes about 90 s and
# a silent one looks hung.
$(STAMP): pyproject.toml
	@echo "make: setting up $(VENV) (torch 2.13.0 CPU build, then neuroplastic and its extras; about 90 s the first time)"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Pinned here: 2.13.0 is the CPU build; a looser requirement pulls a multi-GB CUDA build.
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[dev,ray,text,vision]'
	touch $(STAMP)
	@echo "make: $(VENV) is ready"

run: install
	$(VENV)/bin/neuroplastic run

test: install
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
