"""Prepare LibriSpeech data dirs, and optionally its LM text as unpaired text.

    python -m ssltk.bin.prep_librispeech --root /data/LibriSpeech \\
        --subsets train-clean-100,dev-clean,test-clean --out data \\
        [--lm_text librispeech-lm-norm.txt] [--max_utts N]

One data dir per subset (``train-clean-100`` -> ``data/train_clean_100``); with
``--lm_text``, ``data/text_only/text.txt`` (lower case, transcripts of the prepared
subsets removed).  Details: ``ssltk.corpora.librispeech``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.corpora import librispeech
from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prep_librispeech", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="LibriSpeech directory (holds the subsets)")
    p.add_argument("--subsets", required=True, help="comma-separated, e.g. train-clean-100,dev-clean")
    p.add_argument("--out", required=True, help="output directory for the data dirs")
    p.add_argument("--lm_text", default=None, help="LM text file for the unpaired text side")
    p.add_argument("--max_utts", type=int, default=None, help="first N utterances per subset")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    subsets = [s for s in args.subsets.split(",") if s]
    counts = librispeech.prepare(args.root, subsets, args.out, max_utts=args.max_utts)
    print("prep_librispeech: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " utterances",
          file=sys.stderr)
    if args.lm_text:
        dirs = [Path(args.out) / name for name in counts]
        kept, removed = librispeech.prepare_text(args.lm_text, args.out, dirs)
        print(f"prep_librispeech: text_only {kept} sentences ({removed} spoken ones removed)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
