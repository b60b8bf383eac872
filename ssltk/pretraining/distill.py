"""DistilHuBERT: layer-to-layer distillation of an SSL upstream into a shallow student.

Chang, Yang and Lee, "DistilHuBERT: speech representation learning by layer-wise
distillation of hidden-unit BERT", ICASSP 2022.  Settings of the paper (and of s3prl's
``pretrain/distiller`` configs): student = the teacher's CNN + 2 transformer layers of
the teacher's width, initialised from the teacher's CNN, feature projection, positional
conv and first 2 layers; three linear prediction heads on the student's last layer
predict teacher layers 4, 8 and 12; per head the loss is
``L1(pred, target) + lambda * -log sigmoid(cos(pred, target))`` (lambda = 1), summed over
heads and averaged over frames; the CNN trains with its gradient scaled by 0.1.

Here:

* The **teacher** is any SSL upstream of the hub (registry name or checkpoint path).  It
  is frozen: eval mode always (no dropout, no layerdrop), no gradients, no trainable
  parameters, and it is left out of the model's ``state_dict``, so trainer checkpoints
  hold the student and the heads only (the teacher is loaded again from its name or
  path; ``teacher_fingerprint`` guards a resumed run against a changed file).
* The **student** is an :class:`~ssltk.upstream.ssl_model.SSLUpstream` built from the
  teacher's config with ``student_layers`` layers, ``layerdrop`` 0 and any
  ``student`` overrides (e.g. ``dropout``).  With ``init_from_teacher`` every student
  tensor whose name and shape match a teacher tensor is copied (frontend, feature
  projection, positional conv, encoder LayerNorm, WavLM position bias, layers
  ``0..N-1``); the rest stays random and is listed in the log.
* **Heads**: one ``nn.Linear(student hidden, teacher hidden)`` per predicted teacher
  layer, all reading the student's last hidden state (the paper's "expand-last").
  Default layers: ``round(L * j / 3)`` for j = 1, 2, 3 of a teacher with L layers,
  duplicates removed (12 -> 4, 8, 12; 24 -> 8, 16, 24; 2 -> 1, 2).
* The **loss** counts valid frames only: padding changes nothing.  Stats per head:
  ``l1_L<k>`` (mean absolute error) and ``cos_L<k>`` (mean cosine similarity).
* **Robustness** (``robust``; Huang, Fu, Zhang and Lee, "Improving distortion robustness of
  self-supervised speech processing tasks with domain adaptation", Interspeech 2022):
  cross-distortion mapping (CDM) distorts the inputs with the ``seen`` distortions of a
  distortion file (`ssltk.distort`): setup 1, the student hears a distorted utterance and the
  teacher the clean one; setup 2, each hears its own, independently drawn distortion.  With
  ``dat_weight`` > 0, domain-adversarial training (DAT) adds a discriminator that classifies
  the student's distortion type (``clean`` or one of the seen kinds) from its mean-pooled last
  layer; its cross-entropy trains the discriminator and reaches the student through a
  gradient reversal layer (`GradientReversal`: identity forward, gradient times ``-scale``),
  so the student learns features the discriminator cannot tell apart.  Draws are seeded by
  the distortion file's seed, the utterance and the update count (a buffer: a resumed run
  draws what the uninterrupted one would); validation always draws as update 0.
* **Export**: :func:`export_student` writes the student with ``save_ssltk``; the heads
  ride along in ``pretraining_heads`` (``distill.head_layers`` and
  ``distill.heads.<i>.weight|bias``), which ``hub.load`` keeps but never runs.  So the
  exported file is an ordinary upstream (``num_layers`` = ``student_layers``) that can
  also continue distillation or be analysed against the teacher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.errors import UserError
from ssltk.data.loader import DataConfig
from ssltk.train.config import TrainerConfig, require
from ssltk.train.distributed import dist_info
from ssltk.train.model import TrainableModel, freeze_child
from ssltk.upstream.base import valid_mask
from ssltk.upstream.ssl_model import SSLUpstream

logger = logging.getLogger(__name__)

HEADS_KEY = "distill.head_layers"
# Families whose student is written as "distilhubert" (conv frontend, no position bias).
_DISTILHUBERT_FROM = ("hubert", "wav2vec2", "distilhubert")



@dataclass
class RobustSection:
    """``distill.robust``: cross-distortion mapping and domain-adversarial training."""

    distortions: str = ""  # a distortion file (ssltk.distort.load_distortions); its `seen` list is used
    setup: int = 1  # CDM: 1 = distorted student, clean teacher; 2 = both distorted, independently
    dat_weight: float = 0.0  # DAT: weight of the distortion classifier's loss (0: off)
    dat_scale: float = 1.0  # DAT: the gradient reversal's scale (lambda)
    dat_hidden: int = 256  # DAT: hidden units of the discriminator

    def __post_init__(self) -> None:
        require(bool(self.distortions), "distortions", "give a distortion file (see ssltk.distort)")
        require(self.setup in (1, 2), "setup", f"must be 1 or 2, got {self.setup}")
        require(self.dat_weight >= 0, "dat_weight", f"must be >= 0, got {self.dat_weight}")
        require(self.dat_scale >= 0, "dat_scale", f"must be >= 0, got {self.dat_scale}")
        require(self.dat_hidden >= 1, "dat_hidden", f"must be >= 1, got {self.dat_hidden}")


@dataclass
class DistillSection:
    """The ``distill:`` section."""

    teacher: str = "hubert_base"  # registry name or checkpoint path (--teacher overrides)
    student_layers: int = 2  # transformer layers of the student
    init_from_teacher: bool = True  # copy the teacher's frontend, projection and first layers
    head_layers: list[int] | None = None  # teacher layers to predict; null: round(L*j/3), j=1..3
    cosine_weight: float = 1.0  # lambda of -log sigmoid(cos)
    l1_weight: float = 1.0  # weight of the L1 term
    # Gradient scale of the student's CNN frontend (fairseq's feature_grad_mult; the paper's
    # 0.1); 0 freezes it (no gradient, not updated); 1 trains it like the rest.
    frontend_grad_mult: float = 0.1
    # EncoderConfig fields of the student that differ from the teacher's (e.g. dropout: 0.0);
    # num_layers comes from student_layers.
    student: dict[str, Any] = field(default_factory=dict)
    robust: RobustSection | None = None  # distortion-robust distillation (null: clean inputs)

    def __post_init__(self) -> None:
        require(self.student_layers >= 1, "student_layers", f"must be >= 1, got {self.student_layers}")
        require(self.cosine_weight >= 0, "cosine_weight", f"must be >= 0, got {self.cosine_weight}")
        require(self.l1_weight >= 0, "l1_weight", f"must be >= 0, got {self.l1_weight}")
        require(self.l1_weight + self.cosine_weight > 0, "l1_weight",
                 "l1_weight and cosine_weight are both 0: nothing to learn")
        require(self.frontend_grad_mult >= 0, "frontend_grad_mult",
                 f"must be >= 0, got {self.frontend_grad_mult}")
        require(self.head_layers is None or len(self.head_layers) > 0, "head_layers",
                 "must be a non-empty list or null")
        require("num_layers" not in self.student, "student",
                 "set the student's depth with distill.student_layers, not student.num_layers")


@dataclass
class DistillConfig:
    """Schema of ``python -m ssltk.bin.distill --config``."""

    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    distill: DistillSection = field(default_factory=DistillSection)
    data: DataConfig = field(default_factory=DataConfig)


# ---------------------------------------------------------------- pieces

def default_head_layers(num_layers: int) -> list[int]:
    """``round(L * j / 3)`` for j = 1, 2, 3, at least 1, duplicates removed (sorted)."""
    if num_layers < 1:
        raise UserError(f"a teacher with {num_layers} transformer layers has nothing to distil")
    return sorted({max(1, round(num_layers * j / 3)) for j in (1, 2, 3)})


def check_head_layers(layers: list[int], num_layers: int, teacher: str) -> list[int]:
    bad = [k for k in layers if not 0 <= k <= num_layers]
    if bad:
        raise UserError(f"distill.head_layers {layers}: layer(s) {bad} outside the teacher {teacher!r}'s "
                        f"range 0..{num_layers} (0 = transformer input, {num_layers} = last layer)")
    if len(set(layers)) != len(layers):
        raise UserError(f"distill.head_layers {layers} has duplicates")
    return list(layers)


def load_teacher(name_or_path: str) -> SSLUpstream:
    """The teacher upstream; only SSL models (with transformer layers) can teach."""
    from ssltk import hub

    teacher = hub.load(name_or_path)
    if not isinstance(teacher, SSLUpstream):
        raise UserError(f"teacher {name_or_path!r} is a {type(teacher).__name__}, not an SSL model "
                        "with transformer layers; use e.g. hubert_base or a checkpoint path")
    return teacher


def student_config(teacher: SSLUpstream, layers: int, overrides: dict[str, Any] | None = None):
    """The teacher's EncoderConfig with ``layers`` layers, no layerdrop, and ``overrides``."""
    cfg = teacher.config
    family = "distilhubert" if cfg.family in _DISTILHUBERT_FROM and cfg.frontend == "conv" \
        and not cfg.relative_position_bias else cfg.family
    values = {"family": family, "layerdrop": 0.0, **(overrides or {}), "num_layers": layers}
    try:
        return cfg.replace(**values)
    except (TypeError, ValueError) as err:
        raise UserError(f"distill.student: {err}") from None


@torch.no_grad()
def init_from_teacher(student: SSLUpstream, teacher: SSLUpstream) -> tuple[list[str], list[str]]:
    """Copy every teacher tensor whose name and shape match; ``(copied, kept random)``."""
    if student.num_layers > teacher.num_layers:
        raise UserError(f"a student with {student.num_layers} layers cannot be initialised from a teacher "
                        f"with {teacher.num_layers}; lower distill.student_layers or set "
                        "distill.init_from_teacher: false")
    source = teacher.state_dict()
    target = student.state_dict()
    copied, skipped = [], []
    for key, value in target.items():
        if key in source and source[key].shape == value.shape:
            value.copy_(source[key])
            copied.append(key)
        else:
            skipped.append(key)
    return copied, skipped


def distill_loss(preds: list[torch.Tensor], targets: list[torch.Tensor], lens: torch.Tensor,
                 l1_weight: float = 1.0, cosine_weight: float = 1.0
                 ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Sum over heads of frame-averaged ``l1_weight * L1 + cosine_weight * -log sigmoid(cos)``.

    ``preds``/``targets``: per head ``[B, T, D]``; ``lens[B]`` valid frames.  L1 is the mean
    absolute difference over the D dimensions of a frame.  Returns ``(loss, l1s, coss)``
    with ``l1s[k]`` / ``coss[k]`` the mean L1 / cosine similarity of head k (detached).
    """
    mask = valid_mask(lens, preds[0].shape[1]).to(preds[0].dtype)
    frames = mask.sum().clamp(min=1)
    loss = preds[0].new_zeros(())
    l1s, coss = [], []
    for pred, target in zip(preds, targets):
        l1 = ((pred - target).abs().mean(-1) * mask).sum() / frames
        cos = F.cosine_similarity(pred, target, dim=-1)
        cos_loss = (-F.logsigmoid(cos) * mask).sum() / frames
        loss = loss + l1_weight * l1 + cosine_weight * cos_loss
        l1s.append(l1.detach())
        coss.append(((cos * mask).sum() / frames).detach())
    return loss, l1s, coss


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity in the forward pass; the gradient times ``-scale`` in the backward pass
    (Ganin and Lempitsky, "Unsupervised domain adaptation by backpropagation", ICML 2015)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReverseGradient.apply(x, self.scale)


class DistortionDiscriminator(nn.Module):
    """Mean over valid frames -> gradient reversal -> MLP -> distortion-type logits."""

    def __init__(self, dim: int, hidden: int, classes: int, scale: float):
        super().__init__()
        self.reverse = GradientReversal(scale)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lens, x.shape[1]).to(x.dtype)[..., None]
        pooled = (x * mask).sum(1) / lens.clamp(min=1).to(x.dtype)[:, None]
        return self.mlp(self.reverse(pooled))


# ---------------------------------------------------------------- the task model

class DistillModel(TrainableModel):
    """Frozen ``teacher`` -> ``student`` + ``heads`` (see the module docstring).

    ``forward(batch)`` takes the task batches of ``ssltk.data.loader`` (``wavs``,
    ``wav_lens``) and returns ``(loss, stats)``.  Validation sums frame-weighted losses,
    so ``valid/loss`` is the frame average over the whole set.
    """

    def __init__(self, teacher: SSLUpstream, cfg: DistillSection, teacher_name: str | None = None):
        super().__init__()
        name = teacher_name or cfg.teacher
        if not isinstance(teacher, SSLUpstream):
            raise UserError(f"teacher {name!r} is a {type(teacher).__name__}, not an SSL model")
        self.cfg = cfg
        self.head_layers = check_head_layers(
            cfg.head_layers if cfg.head_layers is not None else default_head_layers(teacher.num_layers),
            teacher.num_layers, name)
        self.teacher = teacher
        freeze_child(self, "teacher")

        self.student = SSLUpstream(student_config(teacher, cfg.student_layers, cfg.student))
        if self.student.downsample_rate != teacher.downsample_rate \
                or self.student.config.frontend != teacher.config.frontend:
            raise UserError(f"distill.student {cfg.student} changes the frame rate or frontend: the student "
                            f"must make the teacher's frames ({teacher.downsample_rate} samples each)")
        self.copied: list[str] = []
        self.kept_random: list[str] = []
        if cfg.init_from_teacher:
            self.copied, self.kept_random = init_from_teacher(self.student, teacher)
            logger.info("student initialised from the teacher: %d tensors copied, %d random (%s)",
                        len(self.copied), len(self.kept_random), ", ".join(self.kept_random) or "none")
        self._grad_hooks = []
        if cfg.frontend_grad_mult == 0:
            self.student.feature_extractor.requires_grad_(False)
        elif cfg.frontend_grad_mult != 1:
            mult = cfg.frontend_grad_mult
            for p in self.student.feature_extractor.parameters():
                self._grad_hooks.append(p.register_hook(lambda g, m=mult: g * m))

        self.heads = nn.ModuleList(nn.Linear(self.student.hidden_size, teacher.hidden_size)
                                   for _ in self.head_layers)
        self.student_distorter = self.teacher_distorter = self.discriminator = None
        if cfg.robust is not None:
            from ssltk.distort import Distorter, load_distortions

            robust = load_distortions(cfg.robust.distortions)
            self.student_distorter = Distorter.from_config(robust, "seen")
            if cfg.robust.setup == 2:  # the teacher's own draws: another seed
                self.teacher_distorter = Distorter(self.student_distorter.configs, robust.seed + 1,
                                                   robust.sample_rate, robust.prob)
            if cfg.robust.dat_weight > 0:
                self.discriminator = DistortionDiscriminator(
                    self.student.hidden_size, cfg.robust.dat_hidden,
                    len(self.student_distorter.configs) + 1, cfg.robust.dat_scale)
            self.register_buffer("updates", torch.zeros((), dtype=torch.long))  # draws of a resumed run

    def train(self, mode: bool = True) -> "DistillModel":
        super().train(mode)
        self.teacher.eval()
        return self

    def predict(self, wavs: torch.Tensor, wav_lens: torch.Tensor, teacher_wavs: torch.Tensor | None = None,
                teacher_lens: torch.Tensor | None = None, return_hidden: bool = False):
        """``(preds, targets, lens)``: per head the prediction and the teacher layer (the
        teacher hears ``teacher_wavs`` when given: cross-distortion mapping); with
        ``return_hidden`` also the student's last hidden state."""
        with torch.no_grad():
            if teacher_wavs is None:
                teacher_wavs, teacher_lens = wavs, wav_lens
            teacher_hidden, teacher_lens = self.teacher(teacher_wavs, teacher_lens)
        hidden, lens = self.student(wavs, wav_lens)
        if hidden[-1].shape[1] != teacher_hidden[0].shape[1] or not torch.equal(lens, teacher_lens):
            raise UserError(f"student and teacher frames differ ({hidden[-1].shape[1]} vs "
                            f"{teacher_hidden[0].shape[1]}): they must share the frame rate")
        last = hidden[-1]
        preds = [head(last) for head in self.heads]
        targets = [teacher_hidden[k].detach() for k in self.head_layers]
        return (preds, targets, lens, last) if return_hidden else (preds, targets, lens)

    def _inputs(self, batch: dict, draw: int):
        """Student and teacher inputs of a batch (cross-distortion mapping) and the student's
        distortion types (0: clean, 1 + i: the i-th seen distortion)."""
        wavs, lens = batch["wavs"], batch["wav_lens"]
        if self.student_distorter is None:
            return wavs, lens, None, None, None
        utts = batch["utts"]
        student = self.student_distorter.batch(wavs, lens, utts, draw)
        teacher = self.teacher_distorter.batch(wavs, lens, utts, draw) if self.teacher_distorter else (wavs, lens)
        types = torch.tensor([self.student_distorter.label(u, draw) for u in utts], device=wavs.device)
        return *student, *teacher, types

    def _losses(self, batch: dict, draw: int):
        if "wavs" not in batch:
            raise UserError("distillation reads audio (wav.scp), the batch holds precomputed features")
        wavs, lens, teacher_wavs, teacher_lens, types = self._inputs(batch, draw)
        preds, targets, lens, last = self.predict(wavs, lens, teacher_wavs, teacher_lens, return_hidden=True)
        loss, l1s, coss = distill_loss(preds, targets, lens, self.cfg.l1_weight, self.cfg.cosine_weight)
        stats: dict[str, Any] = {}
        for k, l1, cos in zip(self.head_layers, l1s, coss):
            stats[f"l1_L{k}"] = l1
            stats[f"cos_L{k}"] = cos
        if self.discriminator is not None:
            logits = self.discriminator(last, lens)
            dat = F.cross_entropy(logits, types)
            loss = loss + self.cfg.robust.dat_weight * dat
            stats["dat_loss"] = dat.detach()
            stats["dat_acc"] = (logits.argmax(-1) == types).float().mean()
        return loss, stats, lens

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        draw = 0
        if self.student_distorter is not None:
            self.updates += 1
            draw = int(self.updates)
        loss, stats, _ = self._losses(batch, draw)
        return loss, stats

    def validation_step(self, batch: dict) -> dict:
        loss, stats, lens = self._losses(batch, 0)
        frames = float(lens.sum())
        return {"loss": float(loss) * frames, **{k: float(v) * frames for k, v in stats.items()},
                "frames": frames}

    def validation_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        frames = totals.get("frames", 0.0)
        if not frames:
            return {}
        return {k: v / frames for k, v in totals.items() if k != "frames"}

    def student_upstream(self) -> SSLUpstream:
        """A copy of the student in eval mode, the heads in ``pretraining_heads``."""
        student = SSLUpstream(self.student.config)
        student.load_state_dict(self.student.state_dict())
        heads = {HEADS_KEY: torch.tensor(self.head_layers, dtype=torch.long)}
        for i, head in enumerate(self.heads):
            heads[f"distill.heads.{i}.weight"] = head.weight.detach().cpu().clone()
            heads[f"distill.heads.{i}.bias"] = head.bias.detach().cpu().clone()
        student.pretraining_heads = heads
        return student.eval()


def export_student(model: DistillModel, path) -> Any:
    """Write the student as an ssltk upstream checkpoint (``ssltk.hub.load(path)``)."""
    import os
    from pathlib import Path

    from ssltk.upstream.checkpoint import save_ssltk

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    save_ssltk(model.student_upstream(), tmp)
    os.replace(tmp, path)  # atomic: an interrupted export leaves the old file
    return path


# ---------------------------------------------------------------- experiment

STUDENT_FILE = "student.pt"


def train(config, train_dir, valid_dir, exp_dir, teacher: str | None = None,
          overrides=()) -> dict:
    """Distil (or resume distilling) into ``exp_dir``; writes ``exp_dir/student.pt``.

    Returns the trainer's results plus ``student`` (the exported path).  Rerunning the
    same command continues from ``exp_dir/checkpoint.pt``; a finished run only exports
    again.  ``exp.yaml`` records the ``distill`` section and the teacher's weight
    fingerprint: a resumed run with another teacher (other weights; a moved file is fine)
    or other settings is an error.
    """
    from ssltk.data.datadir import DataDir
    from ssltk.data.loader import make_loader
    from ssltk.upstream.base import upstream_fingerprint
    from ssltk.train import Trainer, load_config, seed_everything
    from ssltk.train.expdir import ExpDir, config_sections

    cfg = load_config(config, DistillConfig, overrides)
    if teacher is not None:
        cfg.distill.teacher = str(teacher)
    exp = ExpDir(exp_dir)
    teacher_model = load_teacher(cfg.distill.teacher)
    seed_everything(cfg.trainer.seed)
    model = DistillModel(teacher_model, cfg.distill)
    exp.start({"kind": "distill", "teacher_weights": upstream_fingerprint(teacher_model),
               "head_layers": model.head_layers, **config_sections(cfg, "distill")},
              exp.resuming(cfg.trainer), free=("distill.teacher",))

    rate = int(teacher_model.sample_rate)
    data = cfg.data
    train_loader = make_loader(DataDir(train_dir), "audio", sample_rate=rate, shuffle=True,
                               batch_seconds=data.batch_seconds, max_batch=data.max_batch,
                               seed=cfg.trainer.seed, num_workers=cfg.trainer.num_workers)
    valid_loader = make_loader(DataDir(valid_dir), "audio", sample_rate=rate, shuffle=False,
                               batch_seconds=data.valid_batch_seconds or data.batch_seconds,
                               max_batch=data.max_batch, num_workers=cfg.trainer.num_workers)
    trainer = Trainer(model, train_loader, valid_loader, cfg, exp.path)
    results = trainer.fit()
    source = "best" if exp.has_best() else "last"
    student_path = exp / STUDENT_FILE
    if dist_info().is_main:
        exp.load_model(model, source)
        export_student(model, student_path)
        logger.info("exported the student of %s to %s", exp.weights_path(source).name, student_path)
    return {**results, "student": str(student_path), "exported_from": exp.weights_path(source).name}
