#!/usr/bin/env bash
# Compression of ssltk's reference upstream (ssltk_mini; seed 001, "Model Compression &
# Sequence Compression"): weight pruning, head pruning, skip-ahead, FC pruning, fixed-length
# subsampling to 25 and 12.5 Hz, int8 and bf16 inference, and the distilled student, each
# scored on digit and speaker classification (FSDD) and phone recognition (synthetic speech),
# 3 seeds, with parameters, MACs and the measured extraction speed-up (RESULTS.md).
#   ./run.sh                                   # no continued pre-training
#   ./run.sh --continue_config conf/continue.yaml   # iterative, with continued pre-training
# Other options go to compress.sh (./compress.sh --help).
set -euo pipefail

# ssltk_mini: 6 layers x 4 heads (24), FFN 768; 50 Hz frames
specs="none weights:0.3 weights:0.6 weights:0.9 heads:6 heads:12 skip:0.5 ffn:0.5 fixed:2@1 fixed:4@1 int8 bf16"
specs+=" upstream:ssltk_mini_student"
./compress.sh --source_upstream ssltk_mini --specs "${specs}" \
    --tasks "digit=test:acc speaker=test:acc phones=phn_test:per" --results_notes local/results_notes.md "$@"
