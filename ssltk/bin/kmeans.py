"""K-means targets for HuBERT / MelHuBERT pre-training: fit, label, score.

    python -m ssltk.bin.kmeans fit --data data/train --upstream mfcc --upstream-opt deltas=true \\
        --k 100 --max-frames 100000 --out exp/km/mfcc_k100.pt
    python -m ssltk.bin.kmeans fit --feats dump/hubert_base/train --k 500 --out exp/km/it2.pt
    python -m ssltk.bin.kmeans label --codebook exp/km/mfcc_k100.pt --data data/train data/dev \\
        [--out exp/km/train exp/km/dev] [--feats dump/.../train ...]
    python -m ssltk.bin.kmeans score --data data/dev [--labels exp/km/dev] [--out report.json]

``fit`` learns a codebook from frames of a data dir run through a hub upstream
(stage 1: ``mfcc``/``fbank``; stage 2: a layer of any upstream) or of a feature dump
(``ssltk.bin.extract_feats``), sampling at most ``--max-frames`` frames.
``label`` writes ``text.km`` (one cluster id per frame, at the features' frame rate)
and ``km_info.yaml`` into each data dir, or into the matching ``--out`` dir.
``score`` compares ``text.km`` with ``phones.ctm`` (phone purity, cluster purity,
PNMI; see ssltk.metrics.cluster) and writes ``km_score.json`` beside ``text.km``.
Engines: ssltk.pretraining.kmeans (fit_codebook), ssltk.pretraining.labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ssltk.data.datadir import DataDirError, write_json
from ssltk.device import select_device
from ssltk.errors import UserError, cli_main
from ssltk.pretraining.features import DumpSource, UpstreamSource, parse_opts
from ssltk.pretraining.kmeans import Codebook, KMeansConfig, fit_codebook
from ssltk.pretraining.labels import LABELS, label_dir, score_labels


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssltk.bin.kmeans", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def opt(sp, name, **kw):  # --a-b and --a_b
        sp.add_argument(f"--{name}", f"--{name.replace('-', '_')}", dest=name.replace("-", "_"), **kw)

    fit = sub.add_parser("fit", help="learn a codebook")
    src = fit.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="data dir (with --upstream)")
    src.add_argument("--feats", help="feature dump dir or its feats.scp")
    fit.add_argument("--upstream", help="hub name or checkpoint path (with --data)")
    opt(fit, "upstream-opt", action="append", metavar="KEY=VALUE",
        help="upstream override, e.g. deltas=true (repeatable)")
    fit.add_argument("--layer", type=int, default=None, help="hidden state (default: the last)")
    fit.add_argument("--k", type=int, required=True, help="number of clusters")
    opt(fit, "max-frames", type=int, default=100000, help="random frames to cluster (default 100000)")
    opt(fit, "batch-size", type=int, default=10000)
    opt(fit, "max-steps", type=int, default=300)
    opt(fit, "n-init", type=int, default=3)
    opt(fit, "refine-steps", type=int, default=10, help="full Lloyd steps after the mini-batch steps (0: none)")
    fit.add_argument("--normalize", choices=("none", "global"), default="none",
                     help="global: mean/variance-normalise features (stats from the sample)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--out", required=True, help="codebook file to write (.pt)")

    label = sub.add_parser("label", help="write text.km for data dirs")
    label.add_argument("--codebook", required=True)
    lsrc = label.add_mutually_exclusive_group(required=True)
    lsrc.add_argument("--data", nargs="+", help="data dirs (features from the codebook's upstream)")
    lsrc.add_argument("--feats", nargs="+", help="feature dumps (dirs or feats.scp)")
    label.add_argument("--out", nargs="+", help="output dirs, one per input (default: the inputs)")

    score = sub.add_parser("score", help="phone purity, cluster purity, PNMI against phones.ctm")
    score.add_argument("--data", nargs="+", required=True, help="data dirs with phones.ctm")
    score.add_argument("--labels", nargs="+", help="dirs with text.km (default: the data dirs)")
    score.add_argument("--ctm", default="phones.ctm", help="ctm name inside each data dir")
    score.add_argument("--out", nargs="+", help="reports (default: <labels>/km_score.json)")
    for sp in (fit, label):
        sp.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
        opt(sp, "batch-seconds", type=float, default=100.0, help="padded audio seconds per upstream batch")
    return p


def log(msg: str) -> None:
    print(f"kmeans: {msg}", file=sys.stderr)


def run_fit(args) -> None:
    device = select_device(args.device)
    if args.data is not None:
        if not args.upstream:
            raise UserError("fit --data needs --upstream (e.g. mfcc)")
        source = UpstreamSource(args.data, args.upstream, args.layer, parse_opts(args.upstream_opt),
                                device, args.batch_seconds)
    elif args.upstream or args.layer is not None or args.upstream_opt:
        raise UserError("fit --feats takes the upstream and layer from the dump; "
                        "drop --upstream/--layer/--upstream-opt")
    else:
        source = DumpSource(args.feats)
    start = time.time()
    cfg = KMeansConfig(k=args.k, batch_size=args.batch_size, max_steps=args.max_steps,
                       n_init=args.n_init, refine_steps=args.refine_steps, seed=args.seed)
    codebook, stats = fit_codebook(source, cfg, args.max_frames, args.normalize, device,
                                   where=args.data or args.feats)
    codebook.save(args.out)
    m = codebook.meta
    log(f"{args.k} clusters from {m['sampled_frames']} of {m['total_frames']} frames "
        f"({stats['num_utts']} utterances) in {time.time() - start:.1f} s, "
        f"inertia/frame {m['inertia_per_frame']:.4g} -> {args.out}")


def run_label(args) -> None:
    codebook = Codebook.load(args.codebook)
    device = select_device(args.device)
    inputs = args.data or args.feats
    outs = args.out or [str(Path(i).parent if Path(i).is_file() else i) for i in inputs]
    if len(outs) != len(inputs):
        raise UserError(f"--out names {len(outs)} dirs for {len(inputs)} inputs")
    codebook.centers = codebook.centers.to(device)
    for inp, out in zip(inputs, outs):
        start = time.time()
        info, bad = label_dir(codebook, inp, out, bool(args.data), device, args.batch_seconds)
        if bad:
            log(f"warning: {len(bad)} utterances of {inp} differ from their audio by more "
                f"than 0.1 s, e.g. {bad[0]}")
        log(f"{info['num_utts']} utterances, {info['num_frames']} frames at {info['frame_rate']:g} Hz "
            f"-> {Path(out) / LABELS} ({time.time() - start:.1f} s)")


def run_score(args) -> None:
    label_dirs = args.labels or args.data
    if len(label_dirs) != len(args.data):
        raise UserError(f"--labels names {len(label_dirs)} dirs for {len(args.data)} data dirs")
    outs = args.out or [str(Path(d) / "km_score.json") for d in label_dirs]
    if len(outs) != len(args.data):
        raise UserError(f"--out names {len(outs)} files for {len(args.data)} data dirs")
    for data, labels, out in zip(args.data, label_dirs, outs):
        if not Path(data).is_dir():
            raise DataDirError(f"{data}: data directory not found")
        r = score_labels(data, labels, args.ctm)
        write_json(out, r)
        print(f"{data}: PNMI {r['pnmi']:.4f} (shuffled {r['pnmi_shuffled']:.4f}), phone purity "
              f"{r['phone_purity']:.4f}, cluster purity {r['cluster_purity']:.4f}, "
              f"{r['num_frames']} frames -> {out}")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    {"fit": run_fit, "label": run_label, "score": run_score}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
