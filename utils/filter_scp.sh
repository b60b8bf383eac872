#!/usr/bin/env bash
# Usage: utils/filter_scp.sh [--exclude] [-f <field>] <id-list> [<in.scp>] > out.scp
# Implemented in Python: python -m ssltk.bin.datadir filter-scp --help
exec python3 -m ssltk.bin.datadir filter-scp "$@"
