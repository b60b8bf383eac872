"""HuBERT / MelHuBERT masked-prediction pre-training on k-means labels.

    python -m ssltk.bin.pretrain --config conf.yaml --train data/train --valid data/dev --exp exp/pt

The model (:class:`MaskedPredictionModel`) wraps an :class:`~ssltk.upstream.SSLUpstream`
built from a registry name (random init) or a checkpoint path (continued pre-training):

1. frontend features (``SSLUpstream.extract_features``);
2. span masking (:func:`compute_span_mask`): per utterance ``int(mask_prob * T / mask_length
   + U[0, 1))`` span starts (at least ``min_masks``) drawn without replacement among its
   ``T - mask_length + 1`` valid positions, each masking ``mask_length`` frames (spans may
   overlap, so about ``1 - (1 - mask_prob / mask_length) ** mask_length`` of the frames end
   up masked: 57 % for HuBERT's 0.8 / 10, 51 % for MelHuBERT's 0.7 / 5);
   padding is never masked. Draws come from torch's RNG, which the trainer checkpoints, so a
   resumed run repeats the masks; validation uses a generator seeded from the batch's
   utterance ids (the same masks every epoch);
3. masked frames replaced by a mask embedding (learned, or zeros as in MelHuBERT), after
   the feature projection (HuBERT) or before it (MelHuBERT);
4. the transformer encoder, then a head on its last hidden state: ``cosine`` (HuBERT:
   ``final_proj`` to ``final_dim``, cosine similarity with learned label embeddings divided
   by ``logit_temp``) or ``linear`` (MelHuBERT: a linear classifier over the k clusters);
5. loss = ``pred_masked_weight`` * mean cross-entropy over masked labelled frames
   + ``pred_nomask_weight`` * mean cross-entropy over unmasked labelled frames.

Targets: ``text.km`` (one cluster id per frame at ``km_info.yaml``'s ``frame_rate``) of
each data dir (or of a separate label dir), mapped to the model's frame rate by
:func:`ssltk.pretraining.labels.align_labels` (fairseq's rule); model frames past the last label
are ignored by the loss. Stats: ``acc_m`` / ``acc_u`` (accuracy on masked / unmasked
frames), also in validation; the best checkpoint is chosen by ``valid/acc_m``.

The experiment ends with ``exp/upstream.pt``: the best checkpoint's encoder in ssltk's
format, loadable by ``ssltk.hub.load``, with ``mask_emb`` / ``final_proj.*`` /
``label_embs_concat`` in its ``pretraining_heads`` (fairseq's names) so that a later run
continues from it (``model.upstream: exp/pt/upstream.pt``).
"""

from __future__ import annotations

import copy
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltk.compress.pruning import PruneConfig, prune_by_magnitude, unmask
from ssltk.data.datadir import DataDir, DataDirError
from ssltk.errors import UserError
from ssltk.data.loader import DataConfig
from ssltk.pretraining.labels import INFO, LABELS, align_labels, read_info, read_labels
from ssltk.train import Trainer, TrainerConfig, load_config, seed_everything
from ssltk.train.config import require
from ssltk.train.expdir import ExpDir, config_sections
from ssltk.train.distributed import dist_info
from ssltk.train.model import TrainableModel
from ssltk.upstream.base import check_inputs
from ssltk.upstream.ssl_model import SSLUpstream

logger = logging.getLogger(__name__)

IGNORE = -100  # target of frames without a label (cross-entropy's ignore_index)
UPSTREAM_FILE = "upstream.pt"


# ---------------------------------------------------------------- config

@dataclass
class PretrainModelConfig:
    """The ``model:`` section."""

    upstream: str = "hubert_debug"  # registry name (random init) or checkpoint path (continue)
    upstream_conf: dict[str, Any] = field(default_factory=dict)  # hub.load overrides (dropouts...)
    num_classes: int | None = None  # null: km_info.yaml's k; set: must equal it
    head: Literal["cosine", "linear"] = "cosine"  # HuBERT | MelHuBERT
    final_dim: int = 256  # cosine head: projection / label-embedding size
    logit_temp: float = 0.1  # cosine head: logits = cos / logit_temp
    mask_prob: float = 0.8
    mask_length: int = 10  # frames per span (model frames: 20 ms for HuBERT and MelHuBERT)
    min_masks: int = 2  # spans per utterance at least
    mask_before_projection: bool = False  # MelHuBERT: mask frontend features, not projected ones
    learned_mask: bool = True  # false: masked frames become zeros (MelHuBERT)
    pred_masked_weight: float = 1.0
    pred_nomask_weight: float = 0.0
    # Magnitude pruning of the upstream before training; training keeps the pruned weights
    # at zero and the exported upstream holds them as zeros (ssltk.compress.pruning).
    prune: PruneConfig | None = None

    def __post_init__(self) -> None:
        require(0 <= self.mask_prob <= 1, "mask_prob", f"must be in [0, 1], got {self.mask_prob}")
        require(self.mask_length >= 1, "mask_length", f"must be >= 1, got {self.mask_length}")
        require(self.min_masks >= 0, "min_masks", f"must be >= 0, got {self.min_masks}")
        require(self.final_dim >= 1, "final_dim", f"must be >= 1, got {self.final_dim}")
        require(self.logit_temp > 0, "logit_temp", f"must be > 0, got {self.logit_temp}")
        require(self.num_classes is None or self.num_classes >= 2, "num_classes",
                 f"must be >= 2 or null, got {self.num_classes}")
        for key in ("pred_masked_weight", "pred_nomask_weight"):
            require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        require(self.pred_masked_weight + self.pred_nomask_weight > 0, "pred_masked_weight",
                 "pred_masked_weight and pred_nomask_weight are both 0: nothing to learn")


@dataclass
class PretrainConfig:
    trainer: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(best_metric="valid/acc_m", best_mode="max"))
    data: DataConfig = field(default_factory=DataConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)


# ---------------------------------------------------------------- masking

def compute_span_mask(lens: torch.Tensor, max_len: int, mask_prob: float, mask_length: int,
                      min_masks: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[B, max_len]`` bool, True on masked frames (see the module docstring, step 2).

    Each utterance of ``n`` valid frames gets ``min(max(int(mask_prob * n / mask_length + u),
    min_masks), n - span + 1)`` spans of ``span = min(mask_length, n)`` frames, ``u ~ U[0, 1)``,
    starts drawn without replacement from ``[0, n - span]``: frames at or past ``n`` are
    never masked. Random numbers come from ``generator`` (default: torch's global CPU RNG).
    """
    mask = torch.zeros(len(lens), max_len, dtype=torch.bool)
    if mask_prob <= 0:
        return mask.to(lens.device)
    for b, n in enumerate(lens.tolist()):
        n = min(int(n), max_len)
        if n <= 0:
            continue
        span = min(mask_length, n)
        positions = n - span + 1
        num = int(mask_prob * n / mask_length + float(torch.rand((), generator=generator)))
        num = min(max(num, min_masks), positions)
        starts = torch.randperm(positions, generator=generator)[:num]
        mask[b, (starts[:, None] + torch.arange(span)).flatten()] = True
    return mask.to(lens.device)


def expected_mask_fraction(n: int, mask_prob: float, mask_length: int, min_masks: int = 2) -> float:
    """Exact expected fraction of masked frames of :func:`compute_span_mask` for ``n`` frames.

    Frame ``t`` stays unmasked iff none of the ``c_t`` starts covering it is drawn:
    ``C(P - c_t, N) / C(P, N)`` for ``N`` spans among ``P`` positions, averaged over the
    two values ``N`` takes with the random rounding.
    """
    if n <= 0 or mask_prob <= 0:
        return 0.0
    span = min(mask_length, n)
    positions = n - span + 1
    base = mask_prob * n / mask_length
    floor = math.floor(base)
    total = 0.0
    for num, weight in ((floor, 1 - (base - floor)), (floor + 1, base - floor)):
        if weight <= 0:
            continue
        num = min(max(num, min_masks), positions)
        covered = 0.0
        for t in range(n):
            c = min(t, positions - 1) - max(0, t - span + 1) + 1
            free = 1.0
            for i in range(num):
                free *= max(positions - c - i, 0) / (positions - i)
            covered += 1 - free
        total += weight * covered / n
    return total


# ---------------------------------------------------------------- model

class MaskedPredictionModel(TrainableModel):
    """HuBERT-style masked prediction of frame cluster ids (see the module docstring).

    ``batch``: ``wavs [B, T]``, ``wav_lens``, ``targets [B, S]`` (cluster ids at
    ``label_rate``, padded) and ``target_lens``, as `ssltk.data.loader.collate` makes them.
    """

    def __init__(self, upstream: SSLUpstream, cfg: PretrainModelConfig, num_classes: int,
                 label_rate: float):
        super().__init__()
        if not isinstance(upstream, SSLUpstream):
            raise UserError(f"masked-prediction pre-training needs a transformer upstream, got "
                            f"{type(upstream).__name__} ({cfg.upstream})")
        self.upstream = upstream
        self.cfg = cfg
        self.num_classes = num_classes
        self.label_rate = float(label_rate)
        self.frame_rate = float(upstream.frame_rate)
        dim = upstream.hidden_size
        mask_dim = upstream.config.frontend_dim if cfg.mask_before_projection else dim
        self.mask_emb = nn.Parameter(torch.empty(mask_dim).uniform_()) if cfg.learned_mask else None
        if cfg.head == "cosine":
            self.final_proj = nn.Linear(dim, cfg.final_dim)
            self.label_embs = nn.Parameter(torch.empty(num_classes, cfg.final_dim).uniform_())
        else:
            self.final_proj = nn.Linear(dim, num_classes)
            self.label_embs = None
        self._load_heads(upstream.pretraining_heads)

    # heads <-> upstream.pretraining_heads (fairseq names)
    def head_tensors(self) -> dict[str, torch.Tensor]:
        heads = {"final_proj.weight": self.final_proj.weight, "final_proj.bias": self.final_proj.bias}
        if self.mask_emb is not None:
            heads["mask_emb"] = self.mask_emb
        if self.label_embs is not None:
            heads["label_embs_concat"] = self.label_embs
        return heads

    def _load_heads(self, saved: dict[str, torch.Tensor]) -> None:
        if not saved:
            return
        mine = self.head_tensors()
        if self.label_embs is None and "label_embs_concat" in saved:
            saved = {k: v for k, v in saved.items() if not k.startswith(("final_proj.", "label_embs"))}
        reused, fresh = [], []
        for name, param in mine.items():
            value = saved.get(name)
            if value is not None and tuple(value.shape) == tuple(param.shape):
                with torch.no_grad():
                    param.copy_(value.to(param.dtype))
                reused.append(name)
            else:
                fresh.append(name)
        logger.info("pre-training heads from %s: reused %s, initialised %s", self.cfg.upstream,
                    reused or "none", fresh or "none")

    def export_upstream(self) -> SSLUpstream:
        """The encoder with this model's heads in ``pretraining_heads`` (for `save_ssltk`);
        pruned projections become plain ``nn.Linear`` holding their zeros (a copy: this model
        keeps training with its masks)."""
        upstream = unmask(copy.deepcopy(self.upstream)) if self.cfg.prune is not None else self.upstream
        upstream.pretraining_heads = {k: v.detach().cpu().clone() for k, v in self.head_tensors().items()}
        return upstream

    # forward
    def frame_targets(self, batch: dict, lens: torch.Tensor, max_len: int) -> torch.Tensor:
        """``[B, max_len]`` cluster ids at the model frame rate; IGNORE where there is none."""
        out = torch.full((len(lens), max_len), IGNORE, dtype=torch.long)
        targets = batch["targets"].cpu()
        for b, (n, m) in enumerate(zip(lens.tolist(), batch["target_lens"].tolist())):
            aligned = align_labels(targets[b, :m].numpy(), self.label_rate, int(n), self.frame_rate)
            out[b, :len(aligned)] = torch.from_numpy(np.ascontiguousarray(aligned))
        return out.to(lens.device)

    def _apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        emb = self.mask_emb.to(x.dtype) if self.mask_emb is not None else x.new_zeros(x.shape[-1])
        return torch.where(mask[..., None], emb, x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[N, D] -> [N, k]``."""
        proj = self.final_proj(hidden)
        if self.label_embs is None:
            return proj
        cos = F.normalize(proj.float(), dim=-1, eps=1e-8) @ F.normalize(self.label_embs.float(), dim=-1,
                                                                       eps=1e-8).T
        return cos / self.cfg.logit_temp

    def predict(self, batch: dict, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Sums for one batch: ``loss`` (weighted), CE sums, correct counts and frame counts."""
        cfg, up = self.cfg, self.upstream
        wavs, wav_lens = batch["wavs"], batch["wav_lens"]
        check_inputs(wavs, wav_lens)
        if wavs.shape[1] < up.min_samples:  # too short for a frame: nothing to predict
            zero = wavs.new_zeros(()) + 0 * sum(p.sum() for p in self.parameters() if p.requires_grad)
            return {"loss": zero, **{k: 0.0 for k in ("ce_m", "ce_u", "correct_m", "correct_u",
                                                      "count_m", "count_u")}}
        feats, lens = up.extract_features(wavs, wav_lens)
        max_len = feats.shape[1]
        targets = self.frame_targets(batch, lens, max_len)
        mask = compute_span_mask(lens, max_len, cfg.mask_prob, cfg.mask_length, cfg.min_masks, generator)
        if cfg.mask_before_projection:
            feats = self._apply_mask(feats, mask)
        x = up.feature_projection(feats)
        if not cfg.mask_before_projection:
            x = self._apply_mask(x, mask)
        hidden, lens = up.encoder(x, lens)
        labelled = targets != IGNORE
        out: dict[str, Any] = {}
        loss = hidden[-1].new_zeros(())
        for suffix, select, weight in (("m", mask & labelled, cfg.pred_masked_weight),
                                       ("u", ~mask & labelled, cfg.pred_nomask_weight)):
            with torch.set_grad_enabled(torch.is_grad_enabled() and weight > 0):  # stats only
                logits = self.logits(hidden[-1][select])
            target = targets[select]
            ce = F.cross_entropy(logits.float(), target, reduction="sum")
            count = int(target.numel())
            if weight > 0 and count > 0:
                loss = loss + weight * ce / count
            out[f"ce_{suffix}"] = ce.detach()
            out[f"correct_{suffix}"] = (logits.argmax(-1) == target).sum().detach()
            out[f"count_{suffix}"] = count
        if not any(out[f"count_{s}"] for s in "mu"):  # keep every parameter in the graph (DDP)
            loss = loss + 0 * hidden[-1].sum()
        out["loss"] = loss
        return out

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        out = self.predict(batch)
        stats = {}
        for s in "mu":
            n = out[f"count_{s}"]
            if n:
                stats[f"acc_{s}"] = float(out[f"correct_{s}"]) / n
                stats[f"loss_{s}"] = float(out[f"ce_{s}"]) / n
        stats["masked_frac"] = out["count_m"] / max(out["count_m"] + out["count_u"], 1)
        return out["loss"], stats

    def validation_step(self, batch: dict) -> dict:
        seed = zlib.crc32("\n".join(batch["utts"]).encode())
        out = self.predict(batch, torch.Generator().manual_seed(seed))
        return {k: float(v) for k, v in out.items() if k != "loss"}

    def validation_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        metrics = {}
        for s in "mu":
            n = totals.get(f"count_{s}", 0)
            if n:
                metrics[f"acc_{s}"] = totals[f"correct_{s}"] / n
                metrics[f"loss_{s}"] = totals[f"ce_{s}"] / n
        if "loss_m" in metrics:
            metrics["loss"] = metrics["loss_m"]
        return metrics


# ---------------------------------------------------------------- data

def km_targets(data_dir: str | Path, label_dir: str | Path | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``{utt: cluster ids}`` for every utterance of ``data_dir`` and the km_info."""
    ddir = DataDir(data_dir)
    ldir = Path(label_dir) if label_dir is not None else ddir.path
    path = ldir / LABELS
    if not path.is_file():
        raise DataDirError(f"{path}: no such file; pre-training needs k-means labels (python -m "
                           f"ssltk.bin.kmeans label --codebook CB --data {ddir.path} ...)")
    info = read_info(ldir)
    if not info.get("k"):
        raise DataDirError(f"{ldir / INFO}: no k")
    labels = read_labels(path, int(info["k"]))
    table = ddir.path / ("segments" if ddir.has("segments") else "wav.scp")
    out = {}
    for utt in ddir.utt_ids():
        if utt not in labels:
            raise DataDirError(f"utterance '{utt}' of {table} is missing from {path}")
        out[utt] = labels[utt]
    return out, info


def _check_infos(train: dict, valid: dict, train_dir: Path, valid_dir: Path) -> None:
    for key in ("k", "frame_rate", "codebook"):
        a, b = train.get(key), valid.get(key)
        if a is not None and b is not None and a != b:
            raise UserError(f"{train_dir / INFO} and {valid_dir / INFO} differ in {key} "
                            f"({a!r} vs {b!r}): label both with the same codebook")


# ---------------------------------------------------------------- building and training

def build_model(cfg: PretrainModelConfig, num_classes: int, label_rate: float) -> MaskedPredictionModel:
    from ssltk import hub

    upstream = hub.load(cfg.upstream, **cfg.upstream_conf)
    if cfg.prune is not None:
        reached = prune_by_magnitude(upstream, cfg.prune)
        logger.info("pruned %s to sparsity %.4f (%s)", cfg.upstream, reached, cfg.prune.scope)
    return MaskedPredictionModel(upstream, cfg, num_classes, label_rate)


def pretrain(config: str | Path, train_dir: str | Path, valid_dir: str | Path, exp_dir: str | Path,
             train_labels: str | Path | None = None, valid_labels: str | Path | None = None,
             overrides: Iterable[str] = ()) -> dict:
    """Pre-train (or resume); writes ``exp_dir/upstream.pt`` at the end; returns the results."""
    from ssltk.data.loader import make_loader

    cfg = load_config(config, PretrainConfig, overrides)
    exp = ExpDir(exp_dir)
    train_targets, train_info = km_targets(train_dir, train_labels)
    valid_targets, valid_info = km_targets(valid_dir, valid_labels)
    train_ldir = Path(train_labels or train_dir)
    _check_infos(train_info, valid_info, train_ldir, Path(valid_labels or valid_dir))
    k = int(train_info["k"])
    if cfg.model.num_classes is not None and cfg.model.num_classes != k:
        raise UserError(f"model.num_classes is {cfg.model.num_classes} but the labels have k = {k} "
                        f"({train_ldir / INFO}); set model.num_classes: {k} or null")
    label_rate = float(train_info["frame_rate"])
    exp.start({"kind": "pretrain", "k": k, "label_rate": label_rate,
               "codebook": train_info.get("codebook"), **config_sections(cfg, "model")},
              exp.resuming(cfg.trainer))
    seed_everything(cfg.trainer.seed)
    model = build_model(cfg.model, k, label_rate)
    sample_rate = int(model.upstream.sample_rate)
    common = dict(sample_rate=sample_rate, max_batch=cfg.data.max_batch,
                  num_workers=cfg.trainer.num_workers)
    train_loader = make_loader(DataDir(train_dir), "audio", targets=train_targets, shuffle=True,
                               batch_seconds=cfg.data.batch_seconds, seed=cfg.trainer.seed, **common)
    valid_loader = make_loader(DataDir(valid_dir), "audio", targets=valid_targets, shuffle=False,
                               batch_seconds=cfg.data.valid_batch_seconds or cfg.data.batch_seconds,
                               **common)
    trainer = Trainer(model, train_loader, valid_loader, cfg, exp.path)
    results = trainer.fit()
    if dist_info().is_main:
        export(model, exp, exp / UPSTREAM_FILE)
    return results


def export(model: MaskedPredictionModel, exp: ExpDir, out: str | Path) -> Path:
    """Write ``model``'s upstream with the best weights of ``exp`` (when it has some)."""
    from ssltk.upstream.checkpoint import save_ssltk

    if exp.has_best():
        exp.load_model(model, "best")
    return save_ssltk(model.export_upstream(), out)
