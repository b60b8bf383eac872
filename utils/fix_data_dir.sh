#!/usr/bin/env bash
# Usage: utils/fix_data_dir.sh <data-dir>  (sorts; drops utterances missing from any table)
# Implemented in Python: python -m ssltk.bin.datadir fix --help
exec python3 -m ssltk.bin.datadir fix "$@"
