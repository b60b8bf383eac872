#!/usr/bin/env bash
# The seen, then unseen, distortion names of a distortion file (ssltk.distort), on one line:
#   local/conditions.sh data/distort.yaml
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DISTORT_YAML" >&2; exit 1; }
. ./path.sh
python -c 'import sys
from ssltk.distort import load_distortions
cfg = load_distortions(sys.argv[1])
print(" ".join(cfg.seen + cfg.unseen))' "$1"
