"""Train the small scene CLIP of the synthetic corpus and write CLIP targets.

    python -m ssltk.bin.clip_targets --corpus downloads/corpus --phones data/text_prep/phones.txt \\
        --data data/train data/dev data/test --out exp/clip [--steps 300] [--dim 64] [--seed 0]

Trains on the corpus's text-only side (``text_only/text.phn`` + ``text_only/text.scene``;
10% held out for a retrieval check), with ``<SIL>`` inserted as in the GAN's text
(probability 0.5 between words, always at the ends).  Writes ``OUT/text_encoder.pt``
(frozen, vocabulary = ``--phones``), ``OUT/scene_encoder.pt``, ``OUT/<set>/targets.scp``
(the scene embedding of each utterance's ``utt2scene``) and ``OUT/clip_info.json``:
training loss, held-out text->scene recall, and, for evaluation only, the recall of
each speech set's reference phones (``text.phn``: what a perfect generator could get).
Engine: ssltk.uasr.scenes.clip_targets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clip_targets", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="synthetic corpus root (text_only/)")
    p.add_argument("--phones", required=True, help="phone inventory (phones.txt)")
    p.add_argument("--data", nargs="+", required=True, help="speech data dirs with utt2scene")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--sil_prob", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from ssltk.uasr.scenes import clip_targets

    torch.set_num_threads(1)
    info = clip_targets(args.corpus, args.phones, args.data, args.out, steps=args.steps,
                        dim=args.dim, sil_prob=args.sil_prob, seed=args.seed)
    print(f"clip_targets: held-out text->scene r@1 {info['heldout_text']['r@1']:.3f}; "
          f"targets for {', '.join(Path(d).name for d in args.data)} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
