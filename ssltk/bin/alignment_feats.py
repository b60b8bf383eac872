"""Features made from a phone alignment: a diagnostic, not an upstream.

    python -m ssltk.bin.alignment_feats --data data/train --out dump/oracle/train \\
        [--ctm phones.ctm] [--frame_rate 50] [--noise 0.3] [--labels dump/oracle/labels]

Each frame is the one-hot vector of the phone that ``phones.ctm`` puts there, plus
Gaussian noise of standard deviation ``--noise``, written as a feature dump
(``feats.scp``, ``utt2num_frames``, ``feats_info.yaml``) like ``ssltk.bin.extract_feats``.
Perfectly phonetic features tell whether a method fails because of the features or of
itself: an unsupervised ASR GAN must learn a phone mapping from them alone (the phone
identities are not given to it, only which frames share a phone).  Uses labels: never
report it as an unsupervised result.  The dump names no upstream (``upstream: null``):
models train on it, but cannot compute its features from audio.  ``--labels`` fixes the
phone order (a file of phones, one per line; written on the first set and reused for the
others).  Details: ``ssltk.uasr.alignment``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alignment_feats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir with the alignment")
    p.add_argument("--out", required=True, help="output feature dump dir")
    p.add_argument("--ctm", default="phones.ctm", help="alignment file in the data dir")
    p.add_argument("--frame_rate", type=float, default=50.0)
    p.add_argument("--noise", type=float, default=0.3, help="std of the added Gaussian noise")
    p.add_argument("--labels", default=None, help="phone list file (read if it exists, else written)")
    p.add_argument("--seed", type=int, default=0)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.uasr.alignment import alignment_dump

    n, phones = alignment_dump(args.data, args.out, ctm=args.ctm, frame_rate=args.frame_rate,
                               noise=args.noise, labels=args.labels, seed=args.seed)
    print(f"alignment_feats: {n} utterances, {phones} phones -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
