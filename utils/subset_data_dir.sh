#!/usr/bin/env bash
# Usage: utils/subset_data_dir.sh (--utt-list F|--spk-list F|--first N|--last N|--num N
#            |--per-label TABLE N [--seed S]) <src-dir> <dest-dir>
# Implemented in Python: python -m ssltk.bin.datadir subset --help
exec python3 -m ssltk.bin.datadir subset "$@"
