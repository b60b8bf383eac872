#!/usr/bin/env bash
# CLIP targets from image embeddings: --images FILE (.npz keyed by image path as in
# utt2image, or .scp/.npy, see ssltk.uasr.clip.read_targets; e.g. CLIP's image tower run on
# the MSCOCO images) -> <out>/<set>/targets.scp through each set's utt2image.  The frozen
# text encoder (--text_encoder, vocabulary = the generator's phones.txt) is copied to
# <out>/text_encoder.pt.
set -euo pipefail

phones=
out=
sets=
images=
text_encoder=
. ./path.sh
. utils/parse_options.sh

[ -n "${images}" ] && [ -n "${text_encoder}" ] \
    || { echo "$0: needs --images <image embeddings> and --text_encoder <file>" >&2; exit 1; }
mkdir -p "${out}"
python - "${images}" "${out}" "${text_encoder}" "${phones}" ${sets} <<'PY'
import shutil, sys
from pathlib import Path
from ssltk.data.datadir import read_table
from ssltk.uasr.clip import load_text_encoder, read_targets, write_targets
from ssltk.uasr.text import read_phone_inventory

images, out, encoder, phones, *sets = sys.argv[1:]
load_text_encoder(encoder, vocab=read_phone_inventory(phones))  # checks the vocabulary
shutil.copyfile(encoder, Path(out) / "text_encoder.pt")
table = read_targets(images)
for s in sets:
    utt2image = read_table(Path("data") / s / "utt2image")
    missing = sorted(set(utt2image.values()) - set(table))
    if missing:
        sys.exit(f"{images}: no embedding for image {missing[0]} ({len(missing)} missing)")
    write_targets(Path(out) / s / "targets.scp", {u: table[i] for u, i in utt2image.items()})
PY
