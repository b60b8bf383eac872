"""Prepare SpokenCOCO data dirs (with each caption's image) and the unpaired text side.

    python -m ssltk.bin.prep_spokencoco --root /data/SpokenCOCO --out data \\
        [--splits train,val] [--max_images N] [--text_only_fraction 0.5 --seed 0]

``data/{train,val}`` with ``utt2image``; with ``--text_only_fraction F`` the captions of a
fraction F of the train images go to ``data/text_only/{text.txt,text.image}`` instead of
the speech side.  Details: ``ssltk.corpora.spokencoco``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.corpora import spokencoco
from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prep_spokencoco", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="SpokenCOCO directory (SpokenCOCO_*.json, wavs/)")
    p.add_argument("--out", required=True, help="output directory for the data dirs")
    p.add_argument("--splits", default="train,val", help="comma-separated JSON splits")
    p.add_argument("--max_images", type=int, default=None, help="first N images per split")
    p.add_argument("--text_only_fraction", type=float, default=0.0,
                   help="share of train images whose captions become unpaired text")
    p.add_argument("--seed", type=int, default=0)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = spokencoco.prepare(args.root, args.out, [s for s in args.splits.split(",") if s],
                                max_images=args.max_images,
                                text_only_fraction=args.text_only_fraction, seed=args.seed)
    print("prep_spokencoco: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
