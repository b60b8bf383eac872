# Top-level entry points.
#   make demo   set up tools/venv if needed, then run the demo recipe (egs2/slurp/ic1 on the
#               synthetic intent corpus: FBANK vs a tiny SSL upstream, weighted sum)
#   make test   set up tools/venv if needed, then run the whole test suite
#   make env    only set up tools/venv

.PHONY: demo env test

DEMO_UPSTREAMS ?= fbank hubert_debug

demo: env
	cd egs2/slurp/ic1 && ./run.sh --train_config conf/tuning/train_debug.yaml --upstreams "$(DEMO_UPSTREAMS)"

env:
	$(MAKE) -C tools

test:
	bash ci/test.sh
