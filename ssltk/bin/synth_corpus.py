"""Generate a small synthetic corpus (espeak-ng speech) as Kaldi data dirs.

    python -m ssltk.bin.synth_corpus --kind intent --out downloads/synth_intent --seed 0 \\
        [--num-utts 1000] [--noise-snr 20] [--nj 2]

Kinds: intent (SLURP-like, also in SLURP's JSONL + audio layout), codeswitch
(Setswana-English), unpaired (speech + disjoint text-only sentences),
captions (spoken scene captions).  Writes ``<out>/data/{train,dev,test}``,
kind-specific files and ``<out>/README.md``.  The same arguments give
bit-identical files; rerunning with them is a no-op.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    from ssltk.corpora.synth import KINDS

    parser = argparse.ArgumentParser(prog="ssltk.bin.synth_corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", required=True, choices=list(KINDS), help="corpus kind")
    parser.add_argument("--out", required=True, help="corpus root directory to create")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--num-utts", "--num_utts", dest="num_utts", type=int, default=None,
                        help="spoken utterances in all splits (default: 1000)")
    parser.add_argument("--num-text", "--num_text", dest="num_text", type=int, default=None,
                        help="unpaired only: text-only sentences (default: --num-utts)")
    parser.add_argument("--noise-snr", "--noise_snr", dest="noise_snr", type=float, default=None,
                        metavar="DB", help="add white noise at this SNR in dB (default: none)")
    parser.add_argument("--nj", type=int, default=None,
                        help="processes (default: available CPUs, at most 4)")
    parser.add_argument("--engine", choices=("auto", "library", "program"), default="auto",
                        help="espeak-ng through its library (alignments) or its program")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a corpus made with other settings")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    from ssltk.corpora.synth import generate

    args = build_parser().parse_args(argv)
    options = {}
    if args.num_text is not None:
        if args.kind != "unpaired":
            raise UserError("--num-text applies to --kind unpaired only")
        options["num_text"] = args.num_text
    generate(args.kind, args.out, seed=args.seed, num_utts=args.num_utts,
             noise_snr=args.noise_snr, nj=args.nj, engine=args.engine,
             overwrite=args.overwrite, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
