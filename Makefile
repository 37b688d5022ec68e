# Two commands on a fresh machine: `make run` (the app on the default model) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bootstrap bench gui-shots

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@bash scripts/run.sh

test: bootstrap
	@bash scripts/test.sh

bench: bootstrap
	$(PY) -m chemnamer bench
