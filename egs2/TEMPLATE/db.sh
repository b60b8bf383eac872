# Corpus locations. Each can be overridden from the environment, e.g.
#   FSDD=/data/free-spoken-digit-dataset ./run.sh
# A recipe whose corpus variable is empty or points nowhere stops with an error naming it.

# Free Spoken Digit Dataset: the directory holding recordings/ (CC BY-SA 4.0).
# Default: the shared copy beside a clone of this repository.
FSDD=${FSDD:-$(cd "${PWD}/../../../.." && pwd)/shared/data/fsdd}
# CMU AN4 (census database): the directory holding etc/ and wav/ (CMU's BSD-style licence).
# Default: the shared copy beside a clone of this repository.
AN4=${AN4:-$(cd "${PWD}/../../../.." && pwd)/shared/data/an4}
# Background noise (real recordings; SOURCE.md in the folder): the directory holding speech_commands_bg/.
# Default: the shared copy beside a clone of this repository.
NOISE=${NOISE:-$(cd "${PWD}/../../../.." && pwd)/shared/data/noise}
# SLURP: the directory holding dataset/slurp/*.jsonl and the audio (slurp_real/, slurp_synth/).
SLURP=${SLURP:-}
# LibriSpeech: the directory holding train-clean-100/ etc.
LIBRISPEECH=${LIBRISPEECH:-}
# SpokenCOCO: the directory holding SpokenCOCO_{train,val}.json and wavs/.
SPOKENCOCO=${SPOKENCOCO:-}
