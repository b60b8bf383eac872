#!/usr/bin/env bash
# Usage: utils/combine_data.sh <dest-dir> <src-dir1> <src-dir2> ...
# Implemented in Python: python -m ssltk.bin.datadir combine --help
exec python3 -m ssltk.bin.datadir combine "$@"
