#!/usr/bin/env bash
# LibriSpeech for unsupervised ASR: data dirs of the chosen subsets (LIBRISPEECH in db.sh)
# and the LM corpus (librispeech-lm-norm.txt, a separate download) as the unpaired text,
# without the sentences spoken in the prepared subsets.
set -euo pipefail

train_subsets=train-clean-100   # comma-separated
valid_subset=dev-clean
test_subsets=test-clean         # comma-separated
lm_text=                        # default: ${LIBRISPEECH}/librispeech-lm-norm.txt
max_utts=                       # first N utterances per subset (a quick look)
. ./path.sh
. ./db.sh
. utils/parse_options.sh

if [ -z "${LIBRISPEECH}" ] || [ ! -d "${LIBRISPEECH}" ]; then
    echo "$0: LIBRISPEECH='${LIBRISPEECH}' is not a directory: set it in db.sh or the environment" >&2
    exit 1
fi
lm_text=${lm_text:-${LIBRISPEECH}/librispeech-lm-norm.txt}
python -m ssltk.bin.prep_librispeech --root "${LIBRISPEECH}" \
    --subsets "${train_subsets},${valid_subset},${test_subsets}" --out data \
    --lm_text "${lm_text}" ${max_utts:+--max_utts "${max_utts}"}
