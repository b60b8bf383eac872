#!/usr/bin/env bash
# Usage: utils/validate_data_dir.sh [--audio header|full|none] <data-dir>
# Implemented in Python: python -m ssltk.bin.datadir validate --help
exec python3 -m ssltk.bin.datadir validate "$@"
