# Top-level entry points.
#   make demo   set up tools/venv if needed, then run the demo recipe (egs2/slurp/ic1 on the
#               synthetic intent corpus: FBANK vs ssltk's shipped pre-trained upstream
#               ssltk_mini, weighted sum; its learned layer weights plotted to
#               egs2/slurp/ic1/exp/layer_weights.png)
#   make test   set up tools/venv if needed, then run the whole test suite
#   make env    only set up tools/venv

.PHONY: demo env test

DEMO_UPSTREAMS ?= fbank ssltk_mini

# the demo runs one training job at a time: both cores to it
demo: env
	cd egs2/slurp/ic1 && OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} ./run.sh --train_config conf/tuning/train_debug.yaml --upstreams "$(DEMO_UPSTREAMS)"

env:
	$(MAKE) -C tools

test:
	bash ci/test.sh
