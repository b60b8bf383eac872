"""Prepare SLURP data dirs from SLURP's JSONL + audio layout.

    python -m ssltk.bin.prep_slurp --slurp /path/to/slurp --out data [--mic all|headset|far]

``--slurp`` holds ``dataset/slurp/{train,devel,test}.jsonl`` and
``audio/slurp_real/``: the real SLURP, or ssltk's synthetic intent corpus
(``python -m ssltk.bin.synth_corpus --kind intent``).  Writes
``<out>/{train,dev,test}`` (SLURP's devel is dev).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.corpora import slurp
from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssltk.bin.prep_slurp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slurp", required=True, help="SLURP root directory")
    parser.add_argument("--out", required=True, help="output directory for the data dirs")
    parser.add_argument("--mic", choices=slurp.MICS, default="all",
                        help="recordings to use: all, close-talk (headset) or far-field (far)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = slurp.prepare(args.slurp, args.out, mic=args.mic)
    summary = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"prep_slurp: wrote {args.out}/{{train,dev,test}}: {summary} utterances", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
