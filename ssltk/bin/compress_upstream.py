"""Compress an upstream into a new checkpoint (no training; continue pre-training from it
with ``model.upstream: DEST`` of a pre-training config to recover):

    python -m ssltk.bin.compress_upstream SRC DEST --method weights --sparsity 0.5
    python -m ssltk.bin.compress_upstream SRC DEST --method heads --heads 4
    python -m ssltk.bin.compress_upstream SRC DEST --method ffn --fraction 0.5
    python -m ssltk.bin.compress_upstream SRC DEST --method skip_ahead --threshold 0.9 --data data/dev
    python -m ssltk.bin.compress_upstream SRC DEST --method subsample --layer 2 --spec fixed:2

Prints the non-zero parameters and multiply-accumulates per second of audio before and after.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    from ssltk.compress import METHODS

    p = argparse.ArgumentParser(prog="python -m ssltk.bin.compress_upstream", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="registry name or checkpoint path")
    p.add_argument("dest", help="output .pt file (ssltk format)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--sparsity", type=float, default=0.5, help="weights: fraction of projection weights zeroed")
    p.add_argument("--heads", type=int, default=1, help="heads: how many heads to remove")
    p.add_argument("--fraction", type=float, default=0.5, help="ffn: fraction of each layer's units removed")
    p.add_argument("--threshold", type=float, default=0.9, help="skip_ahead: diagonality threshold")
    p.add_argument("--data", help="skip_ahead: data dir whose first --utts utterances are measured")
    p.add_argument("--utts", type=int, default=8)
    p.add_argument("--layer", type=int, default=0, help="subsample: after this layer")
    p.add_argument("--spec", default="fixed:2", help="subsample: fixed:F")
    args = p.parse_args(argv)

    from ssltk import hub
    from ssltk.compress import audio_batch, compress
    from ssltk.compress.pruning import count_nonzero
    from ssltk.upstream.checkpoint import save_ssltk

    upstream = hub.load(args.src)
    audio = audio_batch(args.data, args.utts, upstream.sample_rate) if args.method == "skip_ahead" else None
    result, what = compress(upstream, args.method, sparsity=args.sparsity, heads=args.heads,
                            fraction=args.fraction, threshold=args.threshold, layer=args.layer,
                            spec=args.spec, audio=audio)
    save_ssltk(result, args.dest)
    before, after = (count_nonzero(m) for m in (upstream, result))
    macs = [m.macs(m.sample_rate) for m in (upstream, result)]
    print(f"compress_upstream: {what}\n  non-zero parameters {before:,} -> {after:,} ({after / before:.1%}); "
          f"MACs per second {macs[0] / 1e6:.1f}M -> {macs[1] / 1e6:.1f}M ({macs[1] / macs[0]:.1%}) -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
