# Top-level entry points.
#   make test   set up tools/venv if needed, then run the whole test suite
#   make env    only set up tools/venv

.PHONY: env test

env:
	$(MAKE) -C tools

test:
	bash ci/test.sh
