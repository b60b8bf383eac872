"""Prepare FSDD data dirs: ``<out>/{train,dev,test}`` and ``<out>/README.md``.

    python -m ssltk.bin.prep_fsdd --fsdd /path/to/fsdd --out data [--heldout_speaker theo]

``--fsdd`` is the directory holding ``recordings/``.  Splits: test = takes 0-4,
dev = takes 5-9, train = takes 10-49.  With ``--heldout_speaker NAME``, test is
every take of NAME and train/dev come from the other speakers.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.corpora import fsdd
from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssltk.bin.prep_fsdd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", required=True, help="FSDD directory (holds recordings/)")
    parser.add_argument("--out", required=True, help="output directory for the data dirs")
    parser.add_argument("--heldout_speaker", "--heldout-speaker", dest="heldout_speaker",
                        default=None, metavar="NAME",
                        help="test on all takes of this speaker; train/dev on the others")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = fsdd.prepare(args.fsdd, args.out, heldout_speaker=args.heldout_speaker)
    summary = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"prep_fsdd: wrote {args.out}/{{train,dev,test}}: {summary} utterances", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
