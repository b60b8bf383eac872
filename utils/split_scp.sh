#!/usr/bin/env bash
# Usage: utils/split_scp.sh [--utt2spk <utt2spk>] <in.scp> <out1> [<out2> ...]
# Implemented in Python: python -m ssltk.bin.datadir split-scp --help
exec python3 -m ssltk.bin.datadir split-scp "$@"
