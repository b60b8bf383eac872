"""Prepare AN4 data dirs: ``<out>/{train_nodev,train_dev,test}`` and ``<out>/README.md``.

    python -m ssltk.bin.prep_an4 --an4 /path/to/an4 --out data [--dev_utts 100]

``--an4`` is the directory holding ``etc/`` and ``wav/`` (CMU AN4, close-talking
microphone).  Dev: the first whole speakers of the sorted training list, at least
``--dev_utts`` utterances (see `ssltk.corpora.an4`).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssltk.bin.prep_an4", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--an4", required=True, help="AN4 directory (holds etc/ and wav/)")
    parser.add_argument("--out", required=True, help="output directory for the data dirs")
    parser.add_argument("--dev_utts", "--dev-utts", dest="dev_utts", type=int, default=100,
                        help="dev set size: whole speakers until at least this many utterances")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.corpora import an4

    counts = an4.prepare(args.an4, args.out, dev_utts=args.dev_utts)
    summary = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"prep_an4: wrote {args.out}: {summary} utterances", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
