"""Decode a data directory with a trained experiment.

    python -m ssltk.bin.infer --exp exp/asr_hubert --data data/test --out exp/asr_hubert/decode_test \\
        [--checkpoint best|last|ave|N|PATH] [--beam 10]

Writes ``OUT/hyp`` (transcripts) and ``OUT/hyp.token`` (tokens) for asr,
``OUT/predictions`` for cls, and ``OUT/decode.yaml`` (the settings).  A model
trained on precomputed features reads ``DATA/feats.scp`` when there is one
(it must hold the same features) and otherwise computes them from audio.
``--beam 1`` is best-path decoding, more is CTC prefix beam search (default:
``asr.beam_size`` of the config).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="experiment directory (from ssltk.bin.train)")
    p.add_argument("--data", required=True, help="data (or dump) directory to decode")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--checkpoint", default="best", help="best | last | ave | epoch number | path")
    p.add_argument("--beam", type=int, default=None, help="asr beam size (1: greedy)")
    p.add_argument("--upstream", default=None, help="upstream name/path, if it moved since training")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--batch_seconds", type=float, default=None, help="padded seconds per batch")
    p.add_argument("--num_workers", type=int, default=0, help="data-loading processes")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.tasks.experiment import infer

    out = infer(args.exp, args.data, args.out, checkpoint=args.checkpoint, beam=args.beam,
                device=args.device, upstream=args.upstream, batch_seconds=args.batch_seconds,
                num_workers=args.num_workers)
    print(f"infer: {args.data} -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
