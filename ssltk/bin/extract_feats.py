"""Dump upstream features of a data directory with kaldiio.

    python -m ssltk.bin.extract_feats --upstream hubert_base|PATH --data data/train \\
        --out dump/hubert_base/train [--layer N | --weights FILE] [--nj 4] [--cmd run.pl]

Writes a feature dump (``ssltk.data.dump``): ``OUT/feats.scp`` (+ ``OUT/data/feats.JOB.ark``),
``OUT/utt2num_frames``, ``OUT/feats_info.yaml``, and copies the data dir's tables into
``OUT``, so that ``OUT`` is itself a data directory.  The data dir is split into ``--nj``
shards (``DATA/split<nj>utt``); with ``--nj`` > 1 the shards run as an array job through
``--cmd`` (``run.pl`` locally, the cluster backend of ``cmd.sh`` otherwise), logs in
``OUT/log/extract.JOB.log``.  A finished shard leaves ``OUT/data/.done.JOB``: rerun after
an interruption, only missing shards run.  Batches are sorted by length and bounded by
``--batch_seconds`` of padded audio.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.compress.quantize import PRECISIONS
from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="extract_feats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True, help="registry name or checkpoint path")
    p.add_argument("--data", required=True, help="input data directory")
    p.add_argument("--out", required=True, help="output (dump) directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--layer", type=int, default=None,
                       help="hidden state to dump (0 = transformer input; default: the last)")
    which.add_argument("--weights", help="weighted-sum weights file saved by a Featurizer")
    p.add_argument("--layer_norm", action="store_true",
                   help="normalise each hidden state over features first (as in training)")
    p.add_argument("--batch_seconds", type=float, default=200.0,
                   help="bound on padded audio seconds per batch")
    p.add_argument("--nj", type=int, default=1, help="number of shards (array jobs)")
    p.add_argument("--cmd", default="run.pl", help="job runner for --nj > 1 (e.g. run.pl)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--precision", default="float32", choices=PRECISIONS,
                   help="float16 (CUDA) or bfloat16 autocast, int8 dynamic quantisation (CPU)")
    p.add_argument("--num_workers", type=int, default=0, help="audio-loading processes")
    p.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)  # internal: one shard
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    from ssltk.data.extract import extract, extract_shard
    from ssltk.featurizer import FeatureSpec

    spec = FeatureSpec(args.upstream, layer=args.layer, weights=args.weights,
                       layer_norm=args.layer_norm)
    opts = dict(batch_seconds=args.batch_seconds, device=args.device, precision=args.precision,
                num_workers=args.num_workers)
    if args.job is not None:
        extract_shard(spec, args.data, args.out, args.job, args.nj, **opts)
        return 0
    job_command = [sys.executable, "-m", "ssltk.bin.extract_feats", *argv, "--job", "JOB"]
    n = extract(spec, args.data, args.out, nj=args.nj, cmd=args.cmd, job_command=job_command,
                **opts)
    print(f"extract_feats: {n} utterances -> {args.out}/feats.scp", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
