# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
LAB := $(VENV)/bin/lab
# No container registry is needed: the base image is bootstrapped with debootstrap unless
# LAB_BASE_IMAGE (default debian:bookworm-slim) is already present. LAB_OFFLINE=0 allows pulling it.
export LAB_OFFLINE ?= 1
SCENARIO ?= db-network-misconfig

.PHONY: run test test-unit docker images venv lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

docker:
	./scripts/ensure-docker.sh

images: venv docker
	$(LAB) images build

run: images
	$(LAB) run $(SCENARIO) $(ARGS)

test: venv docker
	./scripts/ensure-test-tools.sh
	$(VENV)/bin/pytest

test-unit: venv
	$(VENV)/bin/pytest -m "not docker"

lint: venv
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/ruff check lab tests
	$(VENV)/bin/mypy

bench: images
	./scripts/ensure-bench-tools.sh
	$(VENV)/bin/python -m bench $(ARGS)

clean:
	-$(LAB) clean
	rm -rf $(VENV)
