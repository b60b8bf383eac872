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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ssltk.data.ctm import WINDOW_CENTRE, frame_labels, read_ctm
from ssltk.data.datadir import DataDir, DataDirError, write_json
from ssltk.device import select_device
from ssltk.errors import UserError, cli_main
from ssltk.metrics.cluster import cluster_scores
from ssltk.ssl.features import DumpSource, UpstreamSource, parse_opts, sample_frames
from ssltk.ssl.kmeans import Codebook, KMeansConfig, KMeansError, minibatch_kmeans
from ssltk.ssl.labels import LABELS, duration_mismatches, read_info, read_labels, write_labels


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssltk.bin.kmeans", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="learn a codebook")
    src = fit.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="data dir (with --upstream)")
    src.add_argument("--feats", help="feature dump dir or its feats.scp")
    fit.add_argument("--upstream", help="hub name or checkpoint path (with --data)")
    fit.add_argument("--upstream-opt", "--upstream_opt", dest="upstream_opt", action="append",
                     metavar="KEY=VALUE", help="upstream override, e.g. deltas=true (repeatable)")
    fit.add_argument("--layer", type=int, default=None, help="hidden state (default: the last)")
    fit.add_argument("--k", type=int, required=True, help="number of clusters")
    fit.add_argument("--max-frames", "--max_frames", dest="max_frames", type=int, default=100000,
                     help="random frames to cluster (default 100000)")
    fit.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=10000)
    fit.add_argument("--max-steps", "--max_steps", dest="max_steps", type=int, default=300)
    fit.add_argument("--n-init", "--n_init", dest="n_init", type=int, default=3)
    fit.add_argument("--refine-steps", "--refine_steps", dest="refine_steps", type=int, default=10,
                     help="full Lloyd steps after the mini-batch steps (0: none)")
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
        sp.add_argument("--batch-seconds", "--batch_seconds", dest="batch_seconds", type=float,
                        default=100.0, help="padded audio seconds per upstream batch")
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
    else:
        if args.upstream or args.layer is not None or args.upstream_opt:
            raise UserError("fit --feats takes the upstream and layer from the dump; "
                            "drop --upstream/--layer/--upstream-opt")
        source = DumpSource(args.feats)
    if args.max_frames < 1:
        raise UserError(f"--max-frames must be >= 1, got {args.max_frames}")
    start = time.time()
    sample, total, num_utts = sample_frames(source.frames(), args.max_frames, args.seed)
    where = args.data or args.feats
    if args.k > len(sample):
        raise KMeansError(f"--k {args.k} is larger than the number of frames ({len(sample)}, "
                          f"from {num_utts} utterances of {where})")
    mean = std = None
    if args.normalize == "global":
        mean, std = sample.mean(0), sample.std(0).clamp(min=1e-5)
        sample = (sample - mean) / std
    cfg = KMeansConfig(k=args.k, batch_size=args.batch_size, max_steps=args.max_steps,
                       n_init=args.n_init, refine_steps=args.refine_steps, seed=args.seed)
    centers, inertia = minibatch_kmeans(sample.to(device), cfg)
    meta = {**source.describe(), "k": args.k, "dim": int(sample.shape[1]),
            "normalize": args.normalize, "seed": args.seed, "sampled_frames": len(sample),
            "total_frames": total, "inertia_per_frame": inertia / len(sample),
            "frame_offset": WINDOW_CENTRE, "trained_on": str(where)}
    Codebook(centers.cpu(), mean, std, meta).save(args.out)
    log(f"{args.k} clusters from {len(sample)} of {total} frames ({num_utts} utterances) in "
        f"{time.time() - start:.1f} s, inertia/frame {inertia / len(sample):.4g} -> {args.out}")


def _source_for(codebook: Codebook, data: str | None, feats: str | None, device, batch_seconds):
    meta = codebook.meta
    if feats is not None:
        source = DumpSource(feats)
        if source.dim != codebook.dim:
            raise KMeansError(f"{source.scp}: feature dimension {source.dim} does not match the "
                              f"codebook's {codebook.dim} ({meta['path']})")
        for key in ("upstream", "layer"):
            mine, theirs = source.info.get(key), meta.get(key)
            if key == "layer" and (mine is None or theirs is None or mine < 0 or theirs < 0):
                continue  # -1 (the last layer) may name the same state as N
            if mine is not None and theirs is not None and mine != theirs:
                raise UserError(f"{source.scp.parent / 'feats_info.yaml'}: {key} {mine!r} but "
                                f"codebook {meta['path']} was fit on {theirs!r}")
        if not source.frame_rate:
            raise UserError(f"{source.scp.parent / 'feats_info.yaml'}: no frame_rate; "
                            "dump the features again with python -m ssltk.bin.extract_feats")
        return source
    if not meta.get("upstream"):
        raise UserError(f"{meta['path']}: the codebook names no upstream; label with --feats")
    if meta.get("weights") or meta.get("layer_norm"):
        raise UserError(f"{meta['path']} was fit on a weighted-sum or layer-normed dump "
                        f"({meta.get('feats')}); label dumps of the same kind with --feats")
    source = UpstreamSource(data, meta["upstream"], meta.get("layer"), meta.get("upstream_opts"),
                            device, batch_seconds)
    if source.dim != codebook.dim:
        raise KMeansError(f"{meta['path']}: codebook dimension {codebook.dim} does not match "
                          f"{meta['upstream']} layer {source.layer} ({source.dim})")
    return source


def run_label(args) -> None:
    codebook = Codebook.load(args.codebook)
    device = select_device(args.device)
    inputs = args.data or args.feats
    outs = args.out or [str(Path(i).parent if Path(i).is_file() else i) for i in inputs]
    if len(outs) != len(inputs):
        raise UserError(f"--out names {len(outs)} dirs for {len(inputs)} inputs")
    centers = codebook.centers.to(device)
    codebook.centers = centers
    for inp, out in zip(inputs, outs):
        start = time.time()
        source = _source_for(codebook, inp if args.data else None, inp if args.feats else None,
                             device, args.batch_seconds)
        labels = {}
        for utt, feats in source.frames():
            labels[utt] = codebook.predict(feats.to(device), where=f"{inp}: {utt}").cpu().numpy()
            if len(labels[utt]) != len(feats):
                raise KMeansError(f"{inp}: {utt}: {len(labels[utt])} labels for {len(feats)} frames")
        if args.data:
            expected = DataDir(inp).utt_ids()
            if set(labels) != set(expected):
                raise DataDirError(f"{inp}: labelled {len(labels)} of {len(expected)} utterances")
            ddir = DataDir(inp)
            if ddir.has("utt2dur"):
                durations = {u: float(d) for u, d in ddir.table("utt2dur").items()}
                bad = duration_mismatches(labels, source.frame_rate, durations)
                if bad:
                    log(f"warning: {len(bad)} utterances of {inp} differ from their audio by more "
                        f"than 0.1 s, e.g. {bad[0]}")
        info = {"frame_rate": source.frame_rate, "k": codebook.k,
                "upstream": codebook.meta.get("upstream"), "layer": codebook.meta.get("layer"),
                "upstream_opts": codebook.meta.get("upstream_opts"),
                "frame_offset": codebook.meta.get("frame_offset", WINDOW_CENTRE),
                "codebook": str(Path(args.codebook).resolve()), "source": str(inp),
                "num_utts": len(labels), "num_frames": int(sum(len(v) for v in labels.values()))}
        write_labels(out, labels, info)
        log(f"{len(labels)} utterances, {info['num_frames']} frames at {source.frame_rate:g} Hz "
            f"-> {Path(out) / LABELS} ({time.time() - start:.1f} s)")


def score_dir(data: str | Path, label_dir: str | Path, ctm_name: str = "phones.ctm") -> dict:
    """Scores of ``label_dir/text.km`` against ``data/<ctm_name>`` (plus a shuffled baseline)."""
    info = read_info(label_dir)
    labels = read_labels(Path(label_dir) / LABELS, info.get("k"))
    ctm_path = Path(data) / ctm_name
    ctm = read_ctm(ctm_path)
    phones, clusters, unaligned = [], [], 0
    for utt, ids in labels.items():
        if utt not in ctm:
            raise DataDirError(f"{ctm_path}: no alignment for '{utt}' of {Path(label_dir) / LABELS}")
        frames = frame_labels(ctm[utt], len(ids), float(info["frame_rate"]),
                              float(info.get("frame_offset", WINDOW_CENTRE)))
        for phone, cluster in zip(frames, ids.tolist()):
            if phone is None:
                unaligned += 1
            else:
                phones.append(phone)
                clusters.append(cluster)
    if not phones:
        raise DataDirError(f"{ctm_path}: no frame of {Path(label_dir) / LABELS} is aligned")
    scores = cluster_scores(phones, clusters)
    shuffled = np.random.default_rng(0).permutation(np.asarray(clusters))
    return {**scores.as_dict(), "pnmi_shuffled": cluster_scores(phones, shuffled).pnmi,
            "unaligned_frames": unaligned, "num_utts": len(labels), "k": info.get("k"),
            "frame_rate": info["frame_rate"], "labels": str(Path(label_dir) / LABELS),
            "ctm": str(ctm_path)}


def run_score(args) -> None:
    label_dirs = args.labels or args.data
    if len(label_dirs) != len(args.data):
        raise UserError(f"--labels names {len(label_dirs)} dirs for {len(args.data)} data dirs")
    outs = args.out or [str(Path(d) / "km_score.json") for d in label_dirs]
    if len(outs) != len(args.data):
        raise UserError(f"--out names {len(outs)} files for {len(args.data)} data dirs")
    for data, label_dir, out in zip(args.data, label_dirs, outs):
        if not Path(data).is_dir():
            raise DataDirError(f"{data}: data directory not found")
        report = score_dir(data, label_dir, args.ctm)
        write_json(out, report)
        print(f"{data}: PNMI {report['pnmi']:.4f} (shuffled {report['pnmi_shuffled']:.4f}), "
              f"phone purity {report['phone_purity']:.4f}, cluster purity "
              f"{report['cluster_purity']:.4f}, {report['num_frames']} frames -> {out}")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    {"fit": run_fit, "label": run_label, "score": run_score}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
