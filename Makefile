# The two commands: `make run` starts the app, `make test` runs the whole test suite.
.PHONY: run test bench

run:
	@scripts/bootstrap
	@.venv/bin/python -m workers.runtime.supervise

test:
	@scripts/bootstrap --test
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

bench:
	@scripts/bootstrap --test
	@.venv/bin/python -m bench
