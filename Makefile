# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
LAB := $(VENV)/bin/lab
# No container registry is needed: the base image is bootstrapped with debootstrap unless
# LAB_BASE_IMAGE (default debian:bookworm-slim) is already present. LAB_OFFLINE=0 allows pulling it.
export LAB_OFFLINE ?= 1
SCENARIO ?= db-network-misconfig

.PHONY: run test test-unit docker images venv bytecode lint bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# The lab's modules compiled ahead: where PYTHONDONTWRITEBYTECODE is set (as on the VM of bench/RESULTS.md),
# Python would compile them again at every `lab` start, 0.3 s each time. Only changed files are compiled.
bytecode: venv
	$(VENV)/bin/python -m compileall -q lab

docker:
	./scripts/ensure-docker.sh

images: venv docker
	$(LAB) images build

run: images bytecode
	$(LAB) run $(SCENARIO) $(ARGS)

# Three passes: the unit tests on both cores; the Docker tests that drive a stack of their own from the test, two at
# a time (the lab keeps stacks apart); then the tests that need the machine alone (marked serial: whole `lab run`s,
# whose checks hold the generator to its schedule and judge the stack's behaviour, engine restarts, `lab clean`,
# timings). The images are built first, once, so that two test processes never build them side by side.
test: venv docker bytecode images
	./scripts/ensure-test-tools.sh
	$(VENV)/bin/pytest -m "not docker and not serial" -n 2
	$(VENV)/bin/pytest -m "docker and not serial" -n 2 --dist worksteal
	$(VENV)/bin/pytest -m serial

test-unit: venv
	$(VENV)/bin/pytest -m "not docker"

lint: venv
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/ruff check lab bench tests
	$(VENV)/bin/mypy

bench: images bytecode
	./scripts/ensure-bench-tools.sh
	$(VENV)/bin/python -m bench $(ARGS)

# The README's headline rows in under 5 minutes: 3 whole runs instead of 5 and none at the load rates (each is
# about 55 s), and no load comparison (so no wrk). Its other rows stay from the last full `make bench`.
bench-quick: images bytecode
	$(VENV)/bin/python -m bench --only stack,injection,run --trials 9 --run-trials 3 --run-rates $(ARGS)

clean:
	-$(LAB) clean
	rm -rf $(VENV)
