"""Dump upstream features of a data directory with kaldiio.

    python -m ssltk.bin.extract_feats --upstream hubert_base|PATH --data data/train \\
        --out dump/hubert_base/train [--layer N | --weights FILE] [--nj 4] [--cmd run.pl]

Writes ``OUT/feats.scp`` (+ ``OUT/data/feats.JOB.ark``), ``OUT/utt2num_frames``,
``OUT/feats_info.yaml`` and copies the data dir's tables into ``OUT``, so that
``OUT`` is itself a data directory.  The data dir is split into ``--nj`` shards
(``DATA/split<nj>utt``); with ``--nj`` > 1 the shards run as an array job
through ``--cmd`` (``run.pl`` locally, the cluster backend of ``cmd.sh``
otherwise), logs in ``OUT/log/extract.JOB.log``.  A finished shard leaves
``OUT/data/.done.JOB``: rerun after an interruption, only missing shards run.
Batches are sorted by length and bounded by ``--batch_seconds`` of padded audio.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import kaldiio
import torch
import yaml
from tqdm import tqdm

from ssltk.data.batching import UtteranceDataset, batch_loader, length_sorted_batches, utt_durations
from ssltk.data.datadir import DataDir, DataDirError, read_table, write_table, write_text_atomic
from ssltk.data.ops import split_data_dir
from ssltk.device import select_device
from ssltk.errors import UserError, cli_main


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
    p.add_argument("--fp16", action="store_true", help="autocast to float16 (GPU only)")
    p.add_argument("--num_workers", type=int, default=0, help="audio-loading processes")
    p.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)  # internal: one shard
    return p


class FeatureSelector(torch.nn.Module):
    """Upstream + the chosen layer or a weighted sum over layers."""

    def __init__(self, upstream_name: str, layer: int | None, weights: str | None,
                 layer_norm: bool = False):
        super().__init__()
        from ssltk import hub
        from ssltk.featurizer import Featurizer

        self.upstream = hub.load(upstream_name).eval()
        if weights is not None:
            self.featurizer = Featurizer(self.upstream, mode="weighted_sum", layer_norm=layer_norm,
                                         weights_path=weights)
        else:
            n = self.upstream.num_layers
            if layer is not None and not -(n + 1) <= layer <= n:
                raise UserError(f"--layer {layer}: {upstream_name} has hidden states 0..{n}")
            self.featurizer = Featurizer(self.upstream, mode="layer", layer_norm=layer_norm,
                                         layer=-1 if layer is None else layer)
        self.dim = self.featurizer.output_size

    @torch.inference_mode()
    def forward(self, wavs, lens):
        hidden, frame_lens = self.upstream(wavs, lens)
        return self.featurizer(hidden), frame_lens


def shard_paths(out: Path, job: int) -> dict[str, Path]:
    data = out / "data"
    return {"ark": data / f"feats.{job}.ark", "scp": data / f"feats.{job}.scp",
            "frames": data / f"utt2num_frames.{job}", "done": data / f".done.{job}"}


def extract_shard(args, part: Path, job: int) -> None:
    """Extract one shard's features; no-op when its .done marker exists."""
    out = Path(args.out)
    paths = shard_paths(out, job)
    if paths["done"].is_file():
        done = yaml.safe_load(paths["done"].read_text())
        wanted = {"upstream": args.upstream, "layer": args.layer, "weights": args.weights,
                  "layer_norm": args.layer_norm}
        if {k: done.get(k) for k in wanted} != wanted:
            raise UserError(f"{out} holds features of another configuration ({paths['done']}: "
                            f"{done}); choose another --out or remove it")
        print(f"extract_feats: shard {job} already done", file=sys.stderr)
        return
    device = select_device(args.device)
    model = FeatureSelector(args.upstream, args.layer, args.weights, args.layer_norm).to(device)
    ddir = DataDir(part)
    dataset = UtteranceDataset(ddir, model.upstream.sample_rate)
    batches = length_sorted_batches(utt_durations(ddir), args.batch_seconds)
    tmp_ark, tmp_scp = (paths[k].with_name(paths[k].name + ".tmp") for k in ("ark", "scp"))
    num_frames = {}
    use_amp = args.fp16 and device.type == "cuda"
    with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
        for utts, wavs, lens in tqdm(batch_loader(dataset, batches, args.num_workers),
                                     total=len(batches), desc=f"shard {job}", mininterval=5,
                                     file=sys.stderr):
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                feats, frame_lens = model(wavs.to(device), lens.to(device))
            feats = feats.float().cpu().numpy()
            for i, utt in enumerate(utts):
                n = int(frame_lens[i])
                writer[utt] = feats[i, :n]
                num_frames[utt] = str(n)
    # The scp names the temporary ark (in batch order): point it at the final name, sort, commit.
    scp = {utt: entry.replace(str(tmp_ark), str(paths["ark"]))
           for utt, entry in read_table(tmp_scp, strict=False).items()}
    tmp_ark.rename(paths["ark"])
    write_table(paths["scp"], scp)
    tmp_scp.unlink()
    write_table(paths["frames"], num_frames)
    info = {"upstream": args.upstream, "layer": args.layer, "weights": args.weights,
            "layer_norm": args.layer_norm, "dim": model.dim, "frame_rate": model.upstream.sample_rate / model.upstream.downsample_rate}
    write_text_atomic(paths["done"], yaml.safe_dump(info, sort_keys=False))


def run_array(args, argv: list[str], nj: int) -> None:
    """Run shards 1..nj through the job runner; shards already done return at once."""
    runner = shlex.split(args.cmd)
    if shutil.which(runner[0]) is None:
        raise UserError(f"--cmd {args.cmd}: '{runner[0]}' not found on PATH "
                        "(source the recipe's path.sh, which puts utils/ on PATH)")
    job_cmd = [sys.executable, "-m", "ssltk.bin.extract_feats", *argv, "--job", "JOB"]
    log = Path(args.out) / "log" / "extract.JOB.log"
    cmd = [*runner, f"JOB=1:{nj}", str(log), *map(shlex.quote, job_cmd)]
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise UserError(f"feature extraction failed (see the logs named above, {log})")


def merge_shards(args, parts: list[Path]) -> int:
    out = Path(args.out)
    scp, frames = {}, {}
    for job in range(1, len(parts) + 1):
        paths = shard_paths(out, job)
        if not paths["done"].is_file():
            raise UserError(f"shard {job} did not finish ({paths['done']} missing)")
        scp.update(read_table(paths["scp"]))
        frames.update(read_table(paths["frames"]))
    src = DataDir(args.data)
    expected = src.utt_ids()
    if set(scp) != set(expected):
        raise DataDirError(f"{out}: {len(scp)} utterances extracted, {len(expected)} in {src.path}")
    for name in src.utt_tables():
        if name not in ("feats.scp", "utt2num_frames"):
            shutil.copy2(src.path / name, out / name)
    for name in ("spk2utt", "segments"):
        if src.has(name):
            shutil.copy2(src.path / name, out / name)
    write_table(out / "feats.scp", scp)
    write_table(out / "utt2num_frames", frames)
    return len(scp)


@cli_main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.nj < 1:
        raise UserError(f"--nj must be >= 1, got {args.nj}")
    if args.weights is not None and not Path(args.weights).is_file():
        raise UserError(f"--weights {args.weights}: no such file")
    parts = split_data_dir(args.data, args.nj)
    if args.job is not None:
        extract_shard(args, parts[args.job - 1], args.job)
        return 0
    Path(args.out, "data").mkdir(parents=True, exist_ok=True)
    if args.nj == 1:
        extract_shard(args, parts[0], 1)
    else:
        run_array(args, argv, args.nj)
    n = merge_shards(args, parts)
    shutil.copy2(shard_paths(Path(args.out), 1)["done"], Path(args.out) / "feats_info.yaml")
    print(f"extract_feats: {n} utterances -> {args.out}/feats.scp", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
