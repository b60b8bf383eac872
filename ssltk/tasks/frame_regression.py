"""``frame_reg``: predict a per-frame scalar track (log-energy, pitch, ...) from features.

The probe of a layer's prosodic content: frontend -> optional projector -> a linear layer
(``head: linear``) or a BLSTM then a linear layer (``head: blstm``) -> one value per frame.
Targets are a track of each data dir (``<target>.scp`` + ``<target>.yaml``, made by
``python -m ssltk.bin.frame_tracks``; see `ssltk.data.tracks`), z-normalised with the
training set's mean and standard deviation, and interpolated to the model's frames.
Loss: mean squared error over valid frames.  Validation and scoring: RMSE (in the
track's units), Pearson correlation over all frames, and the RMSE of always predicting
the training mean (``rmse_mean``: the floor a useful probe must beat).

Config::

    trainer: {best_metric: valid/rmse, best_mode: min}
    frontend: {upstream: hubert_base, featurizer: layer, layer: 6}
    frame_reg: {target: log_energy, head: linear}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from ssltk.data.datadir import DataDir
from ssltk.data.loader import DataConfig, utt_ids
from ssltk.data.tracks import read_track, resample_track, track_rate, write_vectors
from ssltk.errors import UserError
from ssltk.metrics.scoring import score_header
from ssltk.tasks.base import DownstreamTask, RunContext
from ssltk.tasks.config import FrontendConfig
from ssltk.tasks.heads import BLSTM
from ssltk.train.config import TrainerConfig, require
from ssltk.train.model import TrainableModel
from ssltk.upstream.base import valid_mask

HYP = "hyp.scp"


@dataclass
class FrameRegConfig:
    target: str = "log_energy"  # the track: <data dir>/<target>.scp and .yaml
    head: Literal["linear", "blstm"] = "linear"
    proj_dim: int = 0  # projector before the head (0: none)
    hidden_size: int = 256  # blstm: units per direction
    num_layers: int = 1  # blstm: layers
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(bool(self.target), "target", "must name a track")
        require(self.proj_dim >= 0, "proj_dim", f"must be >= 0, got {self.proj_dim}")
        for key in ("hidden_size", "num_layers"):
            require(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class FrameRegTaskConfig:
    trainer: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(best_metric="valid/rmse", best_mode="min"))
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    data: DataConfig = field(default_factory=DataConfig)
    frame_reg: FrameRegConfig = field(default_factory=FrameRegConfig)


class FrameRegressionModel(TrainableModel):
    """See the module docstring; ``predict`` returns tracks in the target's units."""

    def __init__(self, frontend: nn.Module, cfg: FrameRegConfig, ratio: float, mean: float, std: float):
        super().__init__()
        self.frontend = frontend
        self.ratio = ratio  # target frames per model frame
        self.register_buffer("mean", torch.tensor(float(mean)), persistent=False)
        self.register_buffer("std", torch.tensor(float(std)), persistent=False)
        dim = frontend.output_size
        layers: list[nn.Module] = []
        if cfg.proj_dim:
            layers += [nn.Linear(dim, cfg.proj_dim), nn.ReLU()]
            dim = cfg.proj_dim
        self.proj = nn.Sequential(*layers)
        self.blstm = BLSTM(dim, cfg.hidden_size, cfg.num_layers, cfg.dropout) if cfg.head == "blstm" else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden_size if self.blstm is not None else dim, 1)

    def frames(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised predictions ``[B, T]`` and frame counts."""
        feats, lens = self.frontend(batch)
        x = self.proj(feats)
        if self.blstm is not None:
            x = self.blstm(x, lens)
        return self.out(self.dropout(x)).squeeze(-1).float(), lens

    def _pairs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and target values (both normalised) on the frames that have a target."""
        pred, lens = self.frames(batch)
        target, inside = resample_track(batch["targets"].float(), batch["target_lens"], pred.shape[1],
                                        self.ratio)
        mask = inside & valid_mask(lens, pred.shape[1])
        return pred[mask], (target[mask] - self.mean) / self.std

    def forward(self, batch: dict):
        pred, target = self._pairs(batch)
        if not len(pred):
            raise UserError(f"no frame with a target in batch {batch['utts'][:3]}")
        return ((pred - target) ** 2).mean(), {}

    def validation_step(self, batch: dict) -> dict:
        pred, target = self._pairs(batch)
        pred, target = pred.double() * self.std + self.mean, target.double() * self.std + self.mean
        return {"n": len(pred), "sp": pred.sum(), "st": target.sum(), "spp": (pred ** 2).sum(),
                "stt": (target ** 2).sum(), "spt": (pred * target).sum(),
                "sse": ((pred - target) ** 2).sum(), "sse_mean": ((target - self.mean) ** 2).sum()}

    def validation_metrics(self, totals: dict) -> dict:
        n = max(float(totals["n"]), 1.0)
        return {"loss": float(totals["sse"]) / n / float(self.std) ** 2,
                "rmse": math.sqrt(float(totals["sse"]) / n),
                "rmse_mean": math.sqrt(float(totals["sse_mean"]) / n),
                "corr": pearson_from_sums(totals)}

    @torch.no_grad()
    def predict(self, batch: dict) -> list[np.ndarray]:
        pred, lens = self.frames(batch)
        pred = pred * self.std + self.mean
        return [pred[b, :n].cpu().numpy() for b, n in enumerate(lens.tolist())]


def pearson_from_sums(t: dict) -> float:
    """Pearson's r from the sums ``n, sp, st, spp, stt, spt`` (nan for a constant series)."""
    n = float(t["n"])
    cov = float(t["spt"]) - float(t["sp"]) * float(t["st"]) / n
    vp = float(t["spp"]) - float(t["sp"]) ** 2 / n
    vt = float(t["stt"]) - float(t["st"]) ** 2 / n
    return cov / math.sqrt(vp * vt) if vp > 0 and vt > 0 else math.nan


class FrameRegressionTask(DownstreamTask):
    name = "frame_reg"
    schema = FrameRegTaskConfig
    section = "frame_reg"

    def setup(self, cfg, train: DataDir, run: RunContext) -> dict:
        target = cfg.frame_reg.target
        values = np.concatenate(list(self._tracks(train, run.kind, target).values()))
        std = float(values.std())
        if not len(values) or std == 0:
            raise UserError(f"{train.path / (target + '.scp')}: the track is empty or constant")
        return {"target_rate": track_rate(train.path, target), "target_mean": float(values.mean()),
                "target_std": std}

    @staticmethod
    def _tracks(ddir: DataDir, kind: str, target: str) -> dict[str, np.ndarray]:
        tracks = read_track(ddir.path / f"{target}.scp")
        missing = [u for u in utt_ids(ddir, kind) if u not in tracks]
        if missing:
            raise UserError(f"utterance '{missing[0]}' of {ddir.path} has no {target} track "
                            f"({len(missing)} missing from {ddir.path / (target + '.scp')})")
        return {u: tracks[u] for u in utt_ids(ddir, kind)}

    def targets(self, cfg, ddir: DataDir, run: RunContext, meta: dict) -> dict:
        rate = track_rate(ddir.path, cfg.frame_reg.target)
        if rate != meta["target_rate"]:
            raise UserError(f"{ddir.path / (cfg.frame_reg.target + '.yaml')}: frame_rate {rate}, the "
                            f"training track has {meta['target_rate']}")
        tracks = self._tracks(ddir, run.kind, cfg.frame_reg.target)
        return {u: torch.tensor(v) for u, v in tracks.items()}

    def build_model(self, frontend, cfg, meta: dict, exp, run=None) -> FrameRegressionModel:
        return FrameRegressionModel(frontend, cfg.frame_reg, meta["target_rate"] / meta["frame_rate"],
                                    meta["target_mean"], meta["target_std"])

    def decode(self, model: FrameRegressionModel, batch: dict, beam: int) -> dict[str, list]:
        return {HYP: model.predict(batch)}

    def write_outputs(self, out: Path, outputs: dict, meta: dict) -> None:
        write_vectors(out / HYP, outputs[HYP], meta["frame_rate"])

    def score_inputs(self, cfg, meta, exp, data: Path, decode: Path):
        return data / f"{cfg.frame_reg.target}.scp", decode / HYP, {}

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        """RMSE, pooled Pearson r and mean per-utterance r of the predicted track ``hyp``
        against the track ``ref`` (each at the frame rate of its ``.yaml``)."""
        refs, hyps = read_track(ref), read_track(hyp)
        if set(refs) != set(hyps):
            raise UserError(f"{ref} and {hyp} hold different utterances "
                            f"({len(set(refs) ^ set(hyps))} differ)")
        ratio = track_rate(ref.parent, ref.stem) / track_rate(hyp.parent, hyp.stem)
        sums = dict.fromkeys(("n", "sp", "st", "spp", "stt", "spt", "sse"), 0.0)
        per_utt = []
        for utt in sorted(refs):
            t, ok = resample_track(torch.tensor(refs[utt], dtype=torch.float64)[None],
                                   torch.tensor([len(refs[utt])]), len(hyps[utt]), ratio)
            p, t = hyps[utt][ok[0].numpy()].astype(np.float64), t[ok].numpy()
            s = {"n": len(p), "sp": p.sum(), "st": t.sum(), "spp": (p * p).sum(), "stt": (t * t).sum(),
                 "spt": (p * t).sum(), "sse": ((p - t) ** 2).sum()}
            sums = {k: sums[k] + s[k] for k in sums}
            if len(p) > 2:
                per_utt.append(pearson_from_sums(s))
        n = max(sums["n"], 1.0)
        metrics = {"rmse": round(math.sqrt(sums["sse"] / n), 4), "corr": round(pearson_from_sums(sums), 4),
                   "utt_corr": round(float(np.nanmean(per_utt)), 4) if per_utt else math.nan}
        text = (score_header(self.name, ref, hyp) + "|metric|value|\n|---|---|\n"
                + "".join(f"|{k}|{v}|\n" for k, v in metrics.items())
                + f"\n{int(sums['n'])} frames of {len(refs)} utterances\n")
        return text, {"utterances": len(refs), "frames": int(sums["n"]), "metrics": metrics}
