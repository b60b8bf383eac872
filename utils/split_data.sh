#!/usr/bin/env bash
# Usage: utils/split_data.sh [--per-speaker] <data-dir> <num-parts>  (prints the part dirs)
# Implemented in Python: python -m ssltk.bin.datadir split --help
exec python3 -m ssltk.bin.datadir split "$@"
