"""Feature extraction: the audio of a data directory -> a feature dump (`ssltk.data.dump`).

`extract` splits the data dir into ``nj`` shards (``DATA/split<nj>utt``) and writes each
with `extract_shard`, in this process (``nj`` 1) or as an array job through a job runner
(``run.pl`` locally, a cluster backend otherwise; logs in ``OUT/log/extract.JOB.log``).
A finished shard is kept: rerun after an interruption and only the missing shards run.
Batches are sorted by length and bounded by ``batch_seconds`` of padded audio.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ssltk.compress.quantize import autocast, check_precision, for_inference
from ssltk.data.batching import UtteranceDataset, batch_loader, length_sorted_batches, utt_durations
from ssltk.data.datadir import DataDir
from ssltk.data.dump import DumpWriter
from ssltk.data.ops import split_data_dir
from ssltk.device import select_device
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec


class FeatureExtractor(torch.nn.Module):
    """The upstream and featurizer of a spec: ``(wavs, wav_lens) -> (feats, frame_lens)``;
    ``precision`` int8 quantises the upstream (`ssltk.compress.quantize`)."""

    def __init__(self, spec: FeatureSpec, precision: str = "float32", device: torch.device | None = None):
        super().__init__()
        upstream, self.featurizer = spec.build()
        self.upstream = for_inference(upstream, precision, device or torch.device("cpu"))
        self.precision = precision
        self.dim = self.featurizer.output_size
        self.frame_rate = self.upstream.sample_rate / self.upstream.downsample_rate

    @torch.inference_mode()
    def forward(self, wavs: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, frame_lens = self.upstream(wavs, lens)
        return self.featurizer(hidden), frame_lens


def compute_features(model: FeatureExtractor, data: str | Path | DataDir,
                     batch_seconds: float = 200.0, device: torch.device | str = "cpu",
                     num_workers: int = 0, desc: str = "extract") -> Iterator[tuple[str, np.ndarray]]:
    """``(utt, feats [frames, dim] float32)`` for every utterance of ``data``, longest first,
    computed in ``model.precision``."""
    device = torch.device(device)
    ddir = data if isinstance(data, DataDir) else DataDir(data)
    model.to(device).eval()
    dataset = UtteranceDataset(ddir, model.upstream.sample_rate)
    batches = length_sorted_batches(utt_durations(ddir), batch_seconds)
    for utts, wavs, lens in tqdm(batch_loader(dataset, batches, num_workers), total=len(batches),
                                 desc=desc, mininterval=5, file=sys.stderr):
        with autocast(model.precision, device):
            feats, frame_lens = model(wavs.to(device), lens.to(device))
        feats = feats.float().cpu().numpy()
        for i, utt in enumerate(utts):
            yield utt, feats[i, :int(frame_lens[i])]


def extract_shard(spec: FeatureSpec, data: str | Path, out: str | Path, job: int, nj: int, *,
                  batch_seconds: float = 200.0, device: str = "auto", precision: str = "float32",
                  num_workers: int = 0) -> bool:
    """Write shard ``job`` of ``nj``; False when it was done already (nothing to do)."""
    writer = DumpWriter(out, spec, **_precision_info(precision))
    if writer.done(job):
        print(f"{out}: shard {job} already done", file=sys.stderr)
        return False
    part = split_data_dir(data, nj)[job - 1]
    device = select_device(device)
    model = FeatureExtractor(spec, precision, device)
    feats = compute_features(model, part, batch_seconds, device, num_workers, desc=f"shard {job}")
    writer.write_shard(job, feats, model.frame_rate)
    return True


def run_array(cmd: str, nj: int, job_command: list[str], log: Path) -> None:
    """Run ``job_command`` (``JOB`` in it: the shard number) for shards 1..nj through the
    job runner ``cmd`` (e.g. ``run.pl``, ``queue.pl --mem 4G``)."""
    runner = shlex.split(cmd)
    if not runner or shutil.which(runner[0]) is None:
        raise UserError(f"--cmd {cmd}: '{runner[0] if runner else ''}' not found on PATH "
                        "(source the recipe's path.sh, which puts utils/ on PATH)")
    # the runner quotes arguments holding whitespace, as Kaldi's run.pl / slurm.pl do
    proc = subprocess.run([*runner, f"JOB=1:{nj}", str(log), *job_command])
    if proc.returncode != 0:
        raise UserError(f"feature extraction failed (see the logs named above, {log})")


def extract(spec: FeatureSpec, data: str | Path, out: str | Path, *, nj: int = 1,
            cmd: str = "run.pl", job_command: list[str] | None = None,
            batch_seconds: float = 200.0, device: str = "auto", precision: str = "float32",
            num_workers: int = 0) -> int:
    """Dump the features of ``spec`` for the data dir ``data`` into ``out`` (itself a data
    dir then); returns the number of utterances.

    With ``nj`` > 1 the shards run through ``cmd``, each as ``job_command`` (a command line
    with ``JOB`` for the shard number that calls `extract_shard`)."""
    if nj < 1:
        raise UserError(f"--nj must be >= 1, got {nj}")
    check_precision(precision, select_device(device))
    if spec.weights is not None and not Path(spec.weights).is_file():
        raise UserError(f"weights {spec.weights}: no such file")
    source = DataDir(data)
    split_data_dir(data, nj)  # once here, not racing in the jobs
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    opts = dict(batch_seconds=batch_seconds, device=device, precision=precision, num_workers=num_workers)
    if nj == 1:
        extract_shard(spec, data, out, 1, 1, **opts)
    elif job_command is None:
        raise ValueError("nj > 1 needs a job_command")
    else:
        run_array(cmd, nj, job_command, out / "log" / "extract.JOB.log")
    return DumpWriter(out, spec, **_precision_info(precision)).finish(nj, source)


def _precision_info(precision: str) -> dict:
    """What a dump's feats_info.yaml records of the precision (float32: nothing)."""
    return {} if precision == "float32" else {"precision": precision}
