"""The wav2vec-U 2.0 GAN as a trainer task: generator and discriminator trained in
alternate updates with their own Adam optimisers (generator first, as fairseq's
``num_updates % 2``), validated without labels by ``weighted_lm_ppl``.

Generator update: ``gan_loss(D(G(x)), real) + code_penalty * diversity_penalty +
smoothness_weight * smoothness + mmi_weight * aux_kmeans [+ clip_weight * clip_loss]``.
Discriminator update: ``gan_loss(D(G(x)), fake) + gan_loss(D(text), real) +
gradient_penalty * penalty`` (the penalty once, on the discriminator only).
G(x) is the generator's phone distribution after JOIN segmentation (consecutive frames
with the same best phone merged; a random frame of each run in training, the run's mean
in evaluation).

Validation (`validation_step` / `validation_metrics`): greedy hypotheses (best phone per
frame, repeats merged, ``<SIL>`` removed), scored by the phone LM exactly as fairseq's
``unpaired_audio_text`` task: ``lm_ppl = 10 ** (-sum log10 P / (phones + sentences))``,
``vocab_usage`` = share of the inventory (``<SIL>`` excluded) in the hypotheses, and
``weighted_lm_ppl = lm_ppl / vocab_usage ** 2``, the checkpoint selection metric.  PER
against the references is logged when they are given, never used for selection.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.metrics.edit_distance import count_errors
from ssltk.train.config import OptimConfig, TrainerConfig, require
from ssltk.train.model import TrainableModel, freeze_child
from ssltk.uasr.losses import (aux_kmeans_loss, diversity_penalty, gan_loss, gradient_penalty,
                               smoothness_loss)
from ssltk.uasr.model import (Discriminator, DiscriminatorConfig, Generator, GeneratorConfig,
                              join_segments)
from ssltk.uasr.text import SIL
from ssltk.upstream.base import valid_mask

logger = logging.getLogger(__name__)


@dataclass
class GanConfig:
    """The ``gan:`` section (defaults: fairseq ``config/gan/w2vu2.yaml``)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    segmentation: Literal["join", "none"] = "join"
    # Generated distributions shown to the discriminator in training: ``soft`` the softmax
    # (w2vu2); ``gumbel`` Gumbel-softmax samples at temperature max(start * decay ** update,
    # end), one-hot with straight-through gradients when hard_gumbel (fairseq's gumbel /
    # hard_gumbel / temp); ``hard`` the one-hot of the best phone, straight-through gradients
    # of the softmax (no sampling noise).  Evaluation always uses the softmax.
    fake: Literal["soft", "gumbel", "hard"] = "soft"
    hard_gumbel: bool = True
    temp: tuple[float, float, float] = (2.0, 0.1, 0.99995)  # start, end, decay per update
    smoothness_weight: float = 1.5
    gradient_penalty: float = 1.0
    code_penalty: float = 3.0
    mmi_weight: float = 0.5  # auxiliary k-means loss on the residual branch (needs labels)
    clip_weight: float = 0.0  # CLIP loss (needs a text encoder and targets)
    clip_temperature: float = 0.07
    clip_encoder: str | None = None  # frozen text encoder file (ssltk.uasr.clip)

    def __post_init__(self) -> None:
        for name in ("smoothness_weight", "gradient_penalty", "code_penalty", "mmi_weight",
                     "clip_weight"):
            require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        require(self.clip_temperature > 0, "clip_temperature", "must be > 0")
        require(self.temp[0] >= self.temp[1] > 0 and 0 < self.temp[2] <= 1, "temp",
                f"must be (start >= end > 0, 0 < decay <= 1), got {self.temp}")
        require(not self.clip_weight or self.clip_encoder, "clip_encoder",
                "clip_weight > 0 needs clip_encoder (a text encoder file)")


@dataclass
class UasrDataConfig:
    batch_size: int = 160
    updates_per_epoch: int = 1000  # validation / checkpoint interval, in updates
    valid_batch_size: int = 64

    def __post_init__(self) -> None:
        require(self.batch_size >= 2, "batch_size", f"must be >= 2, got {self.batch_size}")
        require(self.updates_per_epoch >= 2, "updates_per_epoch", "must be >= 2 (G and D updates)")
        require(self.valid_batch_size >= 1, "valid_batch_size", "must be >= 1")


def _default_trainer() -> TrainerConfig:
    return TrainerConfig(
        max_epochs=150, grad_clip=5.0, best_metric="valid/weighted_lm_ppl", best_mode="min",
        keep_nbest=1, log_interval=100,
        group_optim={"generator": OptimConfig(name="adam", lr=5e-5, betas=(0.5, 0.98), eps=1e-6),
                     "discriminator": OptimConfig(name="adamw", lr=3e-4, betas=(0.5, 0.98),
                                                  eps=1e-6, weight_decay=1e-4)})


@dataclass
class UasrConfig:
    trainer: TrainerConfig = field(default_factory=_default_trainer)
    gan: GanConfig = field(default_factory=GanConfig)
    data: UasrDataConfig = field(default_factory=UasrDataConfig)


class UasrModel(TrainableModel):
    """Generator + discriminator (+ k-means head, + frozen CLIP text encoder)."""

    def __init__(self, input_dim: int, phones: list[str], cfg: GanConfig,
                 num_clusters: int | None = None, clip_encoder: nn.Module | None = None, lm=None):
        super().__init__()
        if SIL not in phones:
            raise ValueError(f"the phone inventory has no {SIL}")
        self.cfg = cfg
        self.phones = list(phones)
        self.index = {p: i for i, p in enumerate(self.phones)}
        self.sil = self.index[SIL]
        self.generator = Generator(input_dim, len(phones), cfg.generator)
        self.discriminator = Discriminator(len(phones), cfg.discriminator)
        self.aux_head = None
        if cfg.mmi_weight and num_clusters:
            if not cfg.generator.residual:
                raise ValueError("the k-means loss reads the residual branch: "
                                 "set gan.generator.residual or gan.mmi_weight: 0")
            self.aux_head = nn.Linear(input_dim, num_clusters)
        self.clip_encoder = clip_encoder
        if clip_encoder is not None:
            freeze_child(self, "clip_encoder")
        self.lm = lm  # phone LM for validation (ArpaLM); not a module, not in checkpoints
        self.temperature = cfg.temp[0]

    def set_step(self, step: int) -> None:
        start, end, decay = self.cfg.temp
        self.temperature = max(start * decay ** step, end)

    def distributions(self, logits: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees of generated logits (zero on padding)."""
        probs = logits.softmax(dim=-1)
        if self.training and self.cfg.fake == "gumbel":
            probs = F.gumbel_softmax(logits.float(), tau=self.temperature,
                                     hard=self.cfg.hard_gumbel).to(logits.dtype)
        elif self.training and self.cfg.fake == "hard":
            hard = F.one_hot(probs.argmax(dim=-1), probs.size(-1)).to(probs.dtype)
            probs = hard - probs.detach() + probs
        return probs * valid_mask(lens, logits.size(1)).unsqueeze(-1)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.clip_encoder is not None:
            self.clip_encoder.eval()
        return self

    def param_groups(self):
        gen = list(self.generator.parameters())
        if self.aux_head is not None:
            gen += list(self.aux_head.parameters())
        return {"generator": gen, "discriminator": list(self.discriminator.parameters())}

    # ------------------------------------------------------------ generator output

    def generate(self, feats: torch.Tensor, lens: torch.Tensor, segment: bool = True):
        """Phone logits: ``(logits [B, S, V], lens [B], frame logits, frame lens, residual)``."""
        logits, out_lens, residual = self.generator(feats, lens)
        if segment and self.cfg.segmentation == "join":
            joined, joined_lens = join_segments(logits, out_lens, "random" if self.training else "mean")
        else:
            joined, joined_lens = logits, out_lens
        return joined, joined_lens, logits, out_lens, residual

    def forward(self, batch: dict, group: str = "generator"):
        feats, lens = batch["feats"], batch["feat_lens"]
        text, text_lens = batch["text"], batch["text_lens"]
        real = F.one_hot(text, len(self.phones)).to(feats.dtype) * valid_mask(
            text_lens, text.size(1)).unsqueeze(-1)
        if group == "discriminator":
            with torch.no_grad():
                logits, out_lens, *_ = self.generate(feats, lens)
                fake = self.distributions(logits, out_lens)
            loss_fake = gan_loss(self.discriminator(fake, out_lens), real=False)
            loss_real = gan_loss(self.discriminator(real, text_lens), real=True)
            loss = loss_fake + loss_real
            stats = {"d_fake": loss_fake.detach(), "d_real": loss_real.detach()}
            if self.cfg.gradient_penalty:
                penalty = gradient_penalty(self.discriminator, real, fake)
                loss = loss + self.cfg.gradient_penalty * penalty
                stats["grad_pen"] = penalty.detach()
            return loss, stats

        logits, out_lens, _, _, residual = self.generate(feats, lens)
        fake = self.distributions(logits, out_lens)
        adv = gan_loss(self.discriminator(fake, out_lens), real=True)
        div = diversity_penalty(logits, out_lens)
        smooth = smoothness_loss(logits, out_lens)
        loss = adv + self.cfg.code_penalty * div + self.cfg.smoothness_weight * smooth
        stats = {"g_adv": adv.detach(), "diversity": div.detach(), "smooth": smooth.detach()}
        if self.aux_head is not None and "km" in batch:
            mmi = aux_kmeans_loss(self.aux_head(residual), batch["km"])
            loss = loss + self.cfg.mmi_weight * mmi
            stats["mmi"] = mmi.detach()
        if self.cfg.clip_weight and self.clip_encoder is not None:
            from ssltk.uasr.clip import clip_loss

            clip = clip_loss(logits, out_lens, batch["clip_targets"], self.clip_encoder,
                             temperature=self.cfg.clip_temperature)
            loss = loss + self.cfg.clip_weight * clip
            stats["clip"] = clip.detach()
        return loss, stats

    # ------------------------------------------------------------ decoding, validation

    @torch.no_grad()
    def decode(self, feats: torch.Tensor, lens: torch.Tensor):
        """Greedy decoding: per utterance the frame argmax ids (unit ids), and the phone runs
        ``(phone, first frame, frames)`` with ``<SIL>`` runs kept; frames are generator
        output frames (``stride`` input frames each)."""
        logits, out_lens, _ = self.generator(feats, lens)
        best = logits.argmax(dim=-1).cpu()
        out = []
        for b in range(len(lens)):
            ids = best[b, :int(out_lens[b])]
            values, counts = torch.unique_consecutive(ids, return_counts=True)
            starts = torch.cumsum(counts, 0) - counts
            runs = [(self.phones[v], int(s), int(c)) for v, s, c in zip(values.tolist(), starts, counts)]
            out.append({"units": ids.tolist(), "runs": runs,
                        "logits": logits[b, :int(out_lens[b])].cpu()})
        return out

    def hypothesis(self, runs) -> list[str]:
        return [p for p, _, _ in runs if p != SIL]

    def validation_step(self, batch: dict) -> dict:
        decoded = self.decode(batch["feats"], batch["feat_lens"])
        counts = {"sentences": len(decoded), "pred_phones": 0, "lm_logprob": 0.0}
        seen = torch.zeros(len(self.phones))
        errors = ref_len = 0
        for i, d in enumerate(decoded):
            hyp = self.hypothesis(d["runs"])
            counts["pred_phones"] += len(hyp)
            for p in hyp:
                seen[self.index[p]] += 1
            if self.lm is not None:
                counts["lm_logprob"] += self.lm.score(hyp, bos=True, eos=True)
            if "refs" in batch:
                c = count_errors(batch["refs"][i], hyp)
                errors += c.errors
                ref_len += c.ref_len
        for i, n in enumerate(seen.tolist()):
            if i != self.sil:
                counts[f"seen_{i}"] = n
        if "refs" in batch:
            counts.update(errors=errors, ref_phones=ref_len)
        return counts

    def validation_metrics(self, totals: dict) -> dict:
        out = {}
        inventory = len(self.phones) - 1
        used = sum(1 for k, v in totals.items() if k.startswith("seen_") and v > 0)
        out["vocab_usage"] = used / inventory
        if self.lm is not None:
            denom = totals["pred_phones"] + totals["sentences"]
            out["lm_ppl"] = 10 ** (-totals["lm_logprob"] / denom)
            out["weighted_lm_ppl"] = (out["lm_ppl"] / out["vocab_usage"] ** 2
                                      if used else math.inf)
        if "ref_phones" in totals:
            out["per"] = 100.0 * totals["errors"] / max(totals["ref_phones"], 1)
            out["length_ratio"] = totals["pred_phones"] / max(totals["ref_phones"], 1)
        return out


# ---------------------------------------------------------------- experiment



def build_model(cfg: UasrConfig, input_dim: int, phones: list[str], num_clusters: int | None,
                lm=None) -> UasrModel:
    encoder = None
    if cfg.gan.clip_weight:
        from ssltk.uasr.clip import load_text_encoder

        encoder = load_text_encoder(cfg.gan.clip_encoder, vocab=phones)
    return UasrModel(input_dim, phones, cfg.gan, num_clusters=num_clusters, clip_encoder=encoder, lm=lm)


def train(config, train_feats, valid_feats, text_dir, exp_dir, km_dir=None, clip_targets=None,
          valid_ref=None, overrides=()) -> dict:
    """Train (or resume) a GAN in ``exp_dir``; returns the trainer's results.

    ``text_dir``: output of ``ssltk.bin.uasr_text`` (``phones.txt``, ``lm.phones.txt``,
    an ARPA LM).  ``km_dir``: k-means labels of the training set (``text.km``).
    ``clip_targets``: CLIP targets of the training utterances.  ``valid_ref``: a data dir
    with ``text.phn`` for the validation set (PER logged, never used for selection).
    """
    from ssltk.errors import UserError
    from ssltk.train import Trainer, load_config, seed_everything
    from ssltk.train.expdir import ExpDir, config_sections
    from ssltk.uasr.data import GanBatches, SpeechSet, read_phone_text
    from ssltk.uasr.lm import ArpaLM
    from ssltk.uasr.text import read_phone_inventory

    cfg = load_config(config, UasrConfig, overrides)
    text_dir = Path(text_dir)
    phones = read_phone_inventory(text_dir / "phones.txt")
    arpas = sorted(text_dir.glob("lm.phones.*.arpa"))
    if len(arpas) != 1:
        raise UserError(f"{text_dir}: expected one lm.phones.<order>.arpa, found {len(arpas)}")
    lm = ArpaLM.read(arpas[0])
    if cfg.gan.clip_weight and clip_targets is None:
        raise UserError("gan.clip_weight > 0 needs CLIP targets for the training set")
    train_set = SpeechSet(train_feats, km_dir=km_dir if cfg.gan.mmi_weight else None,
                          clip_targets=clip_targets if cfg.gan.clip_weight else None)
    valid_set = SpeechSet(valid_feats, ref_dir=valid_ref)
    if valid_set.dim != train_set.dim:
        raise UserError(f"{train_feats} and {valid_feats} have different feature dims "
                        f"({train_set.dim} vs {valid_set.dim})")
    text = read_phone_text(text_dir / "lm.phones.txt", phones)
    seed_everything(cfg.trainer.seed)
    model = build_model(cfg, train_set.dim, phones, getattr(train_set, "num_clusters", None), lm=lm)
    exp = ExpDir(exp_dir)
    exp.start({"kind": "uasr", "phones": phones, "input_dim": train_set.dim,
               "frame_rate": train_set.frame_rate,
               "num_clusters": getattr(train_set, "num_clusters", None), "lm": str(arpas[0]),
               "features": {**train_set.spec.to_info(), "dim": train_set.dim},
               **config_sections(cfg, "gan")}, exp.resuming(cfg.trainer))
    batches = GanBatches(train_set, text, cfg.data.batch_size, cfg.data.updates_per_epoch,
                         seed=cfg.trainer.seed)
    trainer = Trainer(model, batches, valid_set.eval_batches(cfg.data.valid_batch_size), cfg, exp.path)
    return trainer.fit()


def load_trained(exp_dir, checkpoint: str | None = None) -> UasrModel:
    """The generator of a run (``checkpoint``: see `ExpDir.weights_path`; default the best),
    in eval mode."""
    from ssltk.train import load_config
    from ssltk.train.expdir import ExpDir

    exp = ExpDir(exp_dir)
    meta = exp.read_meta("uasr")
    cfg = load_config(exp / "config.yaml", UasrConfig)
    cfg.gan.clip_weight = 0.0  # the frozen encoder only matters for training
    model = UasrModel(meta["input_dim"], meta["phones"], cfg.gan, num_clusters=meta["num_clusters"])
    exp.load_model(model, checkpoint or "best", optional=("clip_encoder.",))
    model.frame_rate = float(meta["frame_rate"])
    return model.eval()
