#!/usr/bin/env bash
# Usage: utils/utt2spk_to_spk2utt.sh [<utt2spk>] > spk2utt  (reads stdin without an argument)
# Implemented in Python: python -m ssltk.bin.datadir spk2utt --help
exec python3 -m ssltk.bin.datadir spk2utt "$@"
