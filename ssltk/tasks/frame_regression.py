"""``frame_reg`` and ``frame_cls``: predict a per-frame track (log-energy, log-F0, voicing)
from features.

The probe of a layer's prosodic content: frontend -> optional projector -> a linear layer
(``head: linear``) or a BLSTM then a linear layer (``head: blstm``) -> one value per frame.
Targets are a track of each data dir (``<target>.scp`` + ``<target>.yaml``, made by
``python -m ssltk.bin.frame_tracks``; see `ssltk.data.tracks`), interpolated to the
model's frames.

``frame_reg`` regresses a scalar track, z-normalised with the training set's mean and
standard deviation.  Loss: mean squared error over valid frames.  Validation and scoring:
RMSE (in the track's units), Pearson correlation over all frames, and the RMSE of always
predicting the training mean (``rmse_mean``: the floor a useful probe must beat).

``frame_cls`` classifies frames by a 0/1 track (``vuv``: voiced or not).  Loss: binary
cross-entropy of a logit per frame.  Validation and scoring: frame accuracy (``acc``) and
the accuracy of always answering the majority class (``acc_majority``: the floor; in
validation the training set's majority).  Inference writes the probability of class 1.

``mask`` (both tasks) names a 0/1 track of the same frames (``vuv``) that says which
frames count: the loss, the training mean and standard deviation, and every metric use
only the model frames interpolated from masked-in track frames alone, so the target's
values on the other frames (log-F0 on unvoiced frames) change nothing.  Without ``mask``
every frame counts.

Config::

    trainer: {best_metric: valid/rmse, best_mode: min}
    frontend: {upstream: hubert_base, featurizer: layer, layer: 6}
    frame_reg: {target: log_f0, mask: vuv, head: linear}

    trainer: {best_metric: valid/acc, best_mode: max}
    frontend: {upstream: hubert_base, featurizer: layer, layer: 6}
    frame_cls: {target: vuv, head: linear}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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
    mask: str | None = None  # a 0/1 track (vuv): only its 1-frames count (loss and metrics)
    head: Literal["linear", "blstm"] = "linear"
    proj_dim: int = 0  # projector before the head (0: none)
    hidden_size: int = 256  # blstm: units per direction
    num_layers: int = 1  # blstm: layers
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(bool(self.target), "target", "must name a track")
        require(self.mask is None or bool(self.mask), "mask", "must name a track or be null")
        require(self.mask != self.target, "mask", "must be another track than the target")
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


@dataclass
class FrameClsConfig(FrameRegConfig):
    target: str = "vuv"  # a 0/1 track


@dataclass
class FrameClsTaskConfig:
    trainer: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(best_metric="valid/acc", best_mode="max"))
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    data: DataConfig = field(default_factory=DataConfig)
    frame_cls: FrameClsConfig = field(default_factory=FrameClsConfig)


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
        """Predicted and target values (both normalised) on the frames that have a target
        (and are masked in, when the targets carry a mask: see `frame_targets`)."""
        pred, lens = self.frames(batch)
        target, keep = frame_targets(batch["targets"].float(), batch["target_lens"], pred.shape[1],
                                     self.ratio)
        mask = keep & valid_mask(lens, pred.shape[1])
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


class FrameClassificationModel(FrameRegressionModel):
    """``frame_cls``: one logit per frame for a 0/1 track; ``predict`` gives probabilities.
    ``prior``: the training share of class 1 (its majority class is the accuracy floor)."""

    def __init__(self, frontend: nn.Module, cfg: FrameClsConfig, ratio: float, prior: float):
        super().__init__(frontend, cfg, ratio, 0.0, 1.0)  # targets as they are (0/1)
        self.prior = prior

    def forward(self, batch: dict):
        logit, target = self._pairs(batch)
        if not len(logit):
            raise UserError(f"no frame with a target in batch {batch['utts'][:3]}")
        stats = {"acc": ((logit > 0) == (target >= 0.5)).float().mean().detach()}
        return F.binary_cross_entropy_with_logits(logit, target), stats

    def validation_step(self, batch: dict) -> dict:
        logit, target = self._pairs(batch)
        truth = target >= 0.5
        return {"n": len(logit), "bce": F.binary_cross_entropy_with_logits(logit, target, reduction="sum"),
                "correct": ((logit > 0) == truth).sum(), "majority": (truth == (self.prior >= 0.5)).sum()}

    def validation_metrics(self, totals: dict) -> dict:
        n = max(float(totals["n"]), 1.0)
        return {"loss": float(totals["bce"]) / n, "acc": float(totals["correct"]) / n,
                "acc_majority": float(totals["majority"]) / n}

    @torch.no_grad()
    def predict(self, batch: dict) -> list[np.ndarray]:
        logit, lens = self.frames(batch)
        prob = torch.sigmoid(logit)
        return [prob[b, :n].cpu().numpy() for b, n in enumerate(lens.tolist())]


def frame_targets(targets: torch.Tensor, target_lens: torch.Tensor, num_frames: int, ratio: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets at ``num_frames`` model frames, and which frames count.

    ``targets`` is ``[B, S]`` (a track) or ``[B, S, 2]`` (a track and its mask, as
    `FrameRegressionTask.targets` gives them; mask values >= 0.5 are in).  A frame counts
    when it lies inside its track and, with a mask, when every track frame it is
    interpolated from with a nonzero weight is masked in, so that no masked-out value
    reaches a counted frame.
    """
    if targets.dim() == 2:
        return resample_track(targets, target_lens, num_frames, ratio)
    values, inside = resample_track(targets[..., 0], target_lens, num_frames, ratio)
    outside, _ = resample_track((targets[..., 1] < 0.5).to(targets.dtype), target_lens, num_frames, ratio)
    return values, inside & (outside == 0)


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
        c = getattr(cfg, self.section)
        values = self._counted(self._targets(c, train, run.kind))
        std = float(values.std()) if len(values) else 0.0
        if std == 0:
            raise UserError(f"{train.path / (c.target + '.scp')}: the track is empty or constant"
                            + (f" on the frames of the {c.mask} mask" if c.mask else ""))
        return {"target_rate": track_rate(train.path, c.target), "target_mean": float(values.mean()),
                "target_std": std}

    @staticmethod
    def _counted(targets: dict[str, np.ndarray]) -> np.ndarray:
        """The values of the track frames that count (masked in)."""
        return np.concatenate([v if v.ndim == 1 else v[v[:, 1] >= 0.5, 0] for v in targets.values()])

    @staticmethod
    def _tracks(ddir: DataDir, kind: str, target: str) -> dict[str, np.ndarray]:
        tracks = read_track(ddir.path / f"{target}.scp")
        missing = [u for u in utt_ids(ddir, kind) if u not in tracks]
        if missing:
            raise UserError(f"utterance '{missing[0]}' of {ddir.path} has no {target} track "
                            f"({len(missing)} missing from {ddir.path / (target + '.scp')})")
        return {u: tracks[u] for u in utt_ids(ddir, kind)}

    def _targets(self, c: FrameRegConfig, ddir: DataDir, kind: str) -> dict[str, np.ndarray]:
        """``{utt: track [S]}``, or with ``mask`` ``{utt: [S, 2]}`` (track, mask)."""
        tracks = self._tracks(ddir, kind, c.target)
        if c.mask is None:
            return tracks
        rate, mask_rate = track_rate(ddir.path, c.target), track_rate(ddir.path, c.mask)
        if mask_rate != rate:
            raise UserError(f"{ddir.path / (c.mask + '.yaml')}: frame_rate {mask_rate}, the {c.target} "
                            f"track has {rate}")
        masks = self._tracks(ddir, kind, c.mask)
        out = {}
        for utt, values in tracks.items():
            if len(masks[utt]) != len(values):
                raise UserError(f"utterance '{utt}' of {ddir.path}: {len(values)} frames in "
                                f"{c.target}.scp, {len(masks[utt])} in {c.mask}.scp")
            out[utt] = np.stack([values, masks[utt]], axis=1)
        return out

    def targets(self, cfg, ddir: DataDir, run: RunContext, meta: dict) -> dict:
        c = getattr(cfg, self.section)
        rate = track_rate(ddir.path, c.target)
        if rate != meta["target_rate"]:
            raise UserError(f"{ddir.path / (c.target + '.yaml')}: frame_rate {rate}, the "
                            f"training track has {meta['target_rate']}")
        return {u: torch.tensor(v) for u, v in self._targets(c, ddir, run.kind).items()}

    def build_model(self, frontend, cfg, meta: dict, exp, run=None) -> FrameRegressionModel:
        return FrameRegressionModel(frontend, cfg.frame_reg, meta["target_rate"] / meta["frame_rate"],
                                    meta["target_mean"], meta["target_std"])

    def decode(self, model: FrameRegressionModel, batch: dict, beam: int) -> dict[str, list]:
        return {HYP: model.predict(batch)}

    def write_outputs(self, out: Path, outputs: dict, meta: dict) -> None:
        write_vectors(out / HYP, outputs[HYP], meta["frame_rate"])

    def score_inputs(self, cfg, meta, exp, data: Path, decode: Path):
        c = getattr(cfg, self.section)
        options = {"mask": str(data / f"{c.mask}.scp")} if c.mask else {}
        return data / f"{c.target}.scp", decode / HYP, options

    @staticmethod
    def scored_frames(ref: Path, hyp: Path, mask: str | Path | None = None
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{utt: (hypothesis, reference)}`` on the frames of ``hyp`` that count: those inside
        the track ``ref`` (each at the frame rate of its ``.yaml``) and, with the track
        ``mask`` (same frames as ``ref``), masked in (see `frame_targets`)."""
        refs, hyps = read_track(ref), read_track(hyp)
        if set(refs) != set(hyps):
            raise UserError(f"{ref} and {hyp} hold different utterances "
                            f"({len(set(refs) ^ set(hyps))} differ)")
        masks = None
        if mask is not None:
            mask = Path(mask)
            masks = read_track(mask)
            if track_rate(mask.parent, mask.stem) != track_rate(ref.parent, ref.stem):
                raise UserError(f"{mask} and {ref} have different frame rates")
        ratio = track_rate(ref.parent, ref.stem) / track_rate(hyp.parent, hyp.stem)
        out = {}
        for utt in sorted(refs):
            r = torch.tensor(refs[utt], dtype=torch.float64)
            if masks is not None:
                if len(masks.get(utt, ())) != len(r):
                    raise UserError(f"utterance '{utt}': {len(r)} frames in {ref}, "
                                    f"{len(masks.get(utt, ()))} in {mask}")
                r = torch.stack([r, torch.tensor(masks[utt], dtype=torch.float64)], 1)
            t, ok = frame_targets(r[None], torch.tensor([len(refs[utt])]), len(hyps[utt]), ratio)
            out[utt] = hyps[utt][ok[0].numpy()].astype(np.float64), t[ok].numpy()
        return out

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        """RMSE, pooled Pearson r and mean per-utterance r of the predicted track ``hyp``
        against the track ``ref`` (on the frames of ``options["mask"]`` when given)."""
        pairs = self.scored_frames(ref, hyp, options.get("mask"))
        sums = dict.fromkeys(("n", "sp", "st", "spp", "stt", "spt", "sse"), 0.0)
        per_utt = []
        for p, t in pairs.values():
            s = {"n": len(p), "sp": p.sum(), "st": t.sum(), "spp": (p * p).sum(), "stt": (t * t).sum(),
                 "spt": (p * t).sum(), "sse": ((p - t) ** 2).sum()}
            sums = {k: sums[k] + s[k] for k in sums}
            if len(p) > 2:
                per_utt.append(pearson_from_sums(s))
        n = max(sums["n"], 1.0)
        metrics = {"rmse": round(math.sqrt(sums["sse"] / n), 4), "corr": round(pearson_from_sums(sums), 4),
                   "utt_corr": round(float(np.nanmean(per_utt)), 4) if per_utt else math.nan}
        return self._report(ref, hyp, options, metrics, int(sums["n"]), len(pairs))

    def _report(self, ref: Path, hyp: Path, options: dict, metrics: dict, frames: int, utts: int
                ) -> tuple[str, dict]:
        mask = options.get("mask")
        text = (score_header(self.name, ref, hyp) + (f"mask: {mask}\n\n" if mask else "")
                + "|metric|value|\n|---|---|\n" + "".join(f"|{k}|{v}|\n" for k, v in metrics.items())
                + f"\n{frames} frames of {utts} utterances\n")
        return text, {"utterances": utts, "frames": frames, "metrics": metrics}


class FrameClassificationTask(FrameRegressionTask):
    name = "frame_cls"
    schema = FrameClsTaskConfig
    section = "frame_cls"

    def setup(self, cfg, train: DataDir, run: RunContext) -> dict:
        c = cfg.frame_cls
        values = self._counted(self._targets(c, train, run.kind))
        if not len(values):
            raise UserError(f"{train.path / (c.target + '.scp')}: no frame to train on")
        if not np.isin(values, (0.0, 1.0)).all():
            bad = values[~np.isin(values, (0.0, 1.0))][0]
            raise UserError(f"{train.path / (c.target + '.scp')}: frame_cls needs a 0/1 track, found {bad:g}")
        return {"target_rate": track_rate(train.path, c.target), "target_prior": float(values.mean())}

    def build_model(self, frontend, cfg, meta: dict, exp, run=None) -> FrameClassificationModel:
        return FrameClassificationModel(frontend, cfg.frame_cls, meta["target_rate"] / meta["frame_rate"],
                                        meta["target_prior"])

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        """Frame accuracy (%) of ``hyp`` (probabilities, class 1 from 0.5) against the 0/1
        track ``ref``, and that of always answering ``ref``'s majority class."""
        pairs = self.scored_frames(ref, hyp, options.get("mask"))
        n = correct = ones = 0
        for p, t in pairs.values():
            n += len(p)
            correct += int(((p >= 0.5) == (t >= 0.5)).sum())
            ones += int((t >= 0.5).sum())

        def rate(k: int) -> float:
            return round(100.0 * k / n, 2) if n else math.nan

        metrics = {"acc": rate(correct), "acc_majority": rate(max(ones, n - ones))}
        return self._report(ref, hyp, options, metrics, n, len(pairs))
