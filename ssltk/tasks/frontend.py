"""The frontend of a task head (the features it sees, as in ESPnet configs): upstream +
featurizer on audio, or precomputed features.

Batches (see `ssltk.data.loader`) hold either ``wavs``/``wav_lens`` (features are
computed on the fly) or ``feats``/``feat_lens`` (read from a dump made by
``ssltk.bin.extract_feats``, which already holds one layer or a weighted sum:
no featurizer applies).  Upstream and featurizer come from a `FeatureSpec` (the
config's, or the one stored in a dump's ``feats_info.yaml``): `spec_frontend`.

A frozen upstream (the default) stays in eval mode, runs without gradients,
has no trainable parameters, and is left out of the model's ``state_dict``:
checkpoints hold the head and featurizer only, and the upstream is loaded
again from its name or path (`ssltk.upstream.base.upstream_fingerprint` guards against a changed
file).  With a ``peft`` section, the modules it adds to the frozen upstream (adapters, LoRA,
prefixes, prompts, BitFit's biases) train, run with gradients through the upstream, and are
the upstream's only entries in checkpoints.  With ``finetune_upstream`` it trains with the
head and is saved.
With ``speed_perturb`` factors, training batches are speed-perturbed first
(`ssltk.data.augment.speed_perturb`), and with ``spec_augment`` their features are masked
last (`ssltk.data.augment.spec_augment`); evaluation never is.
"""

from __future__ import annotations


import torch
from torch import nn

from ssltk.compress.quantize import autocast, for_inference
from ssltk.data.augment import spec_augment, speed_perturb
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.peft import PeftConfig, apply_peft
from ssltk.train.model import freeze_child
from ssltk.upstream.base import upstream_fingerprint, valid_mask



class Frontend(nn.Module):
    """``forward(batch) -> (feats [B, T, D], lens [B])``; ``output_size`` is D."""

    def __init__(self, upstream: nn.Module | None = None, featurizer: nn.Module | None = None,
                 finetune: bool = False, input_dim: int | None = None,
                 speed_perturb: list[float] | None = None, utterance_mvn: bool = False,
                 spec_augment=None, adapted: bool = False, upstream_fingerprint: str | None = None,
                 precision: str = "float32"):
        super().__init__()
        self.precision = precision  # of the frozen upstream (`ssltk.compress.quantize`)
        # int8: a quantised copy runs the upstream; kept out of the module tree, so that the
        # float upstream (its fingerprint, its entries when checkpoints are loaded) stays as is
        self._quantized = ([for_inference(upstream, "int8", torch.device("cpu"))]
                           if precision == "int8" and upstream is not None else [])
        self.utterance_mvn = utterance_mvn
        self.spec_augment = spec_augment  # a SpecAugmentConfig, or None
        self.upstream = upstream
        self.featurizer = featurizer
        self.finetune = finetune and upstream is not None
        self.adapted = adapted and upstream is not None  # a frozen upstream with trainable peft modules
        self.upstream_fingerprint = upstream_fingerprint  # of the frozen upstream as loaded
        if speed_perturb and upstream is None:
            raise UserError("frontend.speed_perturb needs features computed from audio, "
                            "not precomputed ones")
        self.speed_perturb = list(speed_perturb or [])
        if upstream is None:
            if input_dim is None:
                raise ValueError("a precomputed-feature frontend needs input_dim")
            self.output_size = input_dim
        else:
            self.output_size = featurizer.output_size
            if not self.finetune:
                freeze_child(self, "upstream", keep_trainable=self.adapted)

    def train(self, mode: bool = True) -> "Frontend":
        super().train(mode)
        if self.upstream is not None and not self.finetune:
            self.upstream.eval()
        return self

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if self.upstream is None:
            if "feats" not in batch:
                raise UserError("this model reads precomputed features, the batch holds audio")
            return self._augment(*self._normalize(batch["feats"], batch["feat_lens"]))
        if "wavs" not in batch:
            raise UserError("this model computes features from audio, the batch holds features")
        wavs, lens = batch["wavs"], batch["wav_lens"]
        if self.training and self.speed_perturb:
            wavs, lens = speed_perturb(wavs, lens, self.speed_perturb)
        if self.precision == "int8" and wavs.device.type != "cpu":
            raise UserError("frontend.precision int8 (dynamic quantisation) runs on CPU only")
        with torch.set_grad_enabled((self.finetune or self.adapted) and torch.is_grad_enabled()), \
                autocast(self.precision, wavs.device):
            hidden, lens = (self._quantized or [self.upstream])[0](wavs, lens)
        hidden = [h.float() for h in hidden]
        return self._augment(*self._normalize(self.featurizer(hidden), lens.to(torch.long)))

    def _augment(self, feats: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.spec_augment
        if not (self.training and c is not None):
            return feats, lens
        return spec_augment(feats, lens, c.freq_masks, c.freq_width, c.time_masks, c.time_width,
                            c.max_time_ratio), lens

    def _normalize(self, feats: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Utterance MVN: zero mean, unit variance per dimension over each utterance's valid
        frames (removes a speaker's or channel's average spectrum); padding stays zero."""
        if not self.utterance_mvn:
            return feats, lens
        mask = valid_mask(lens, feats.shape[1]).to(feats.dtype)[..., None]
        n = lens.clamp(min=1).to(feats.dtype)[:, None, None]
        mean = (feats * mask).sum(1, keepdim=True) / n
        var = ((feats - mean) ** 2 * mask).sum(1, keepdim=True) / n
        return (feats - mean) * torch.rsqrt(var + 1e-5) * mask, lens


def frontend_spec(cfg) -> FeatureSpec:
    """The `FeatureSpec` of a `FrontendConfig`."""
    return FeatureSpec(cfg.upstream, layer=cfg.layer, layer_norm=cfg.layer_norm,
                       mode=cfg.featurizer, layers=cfg.layers)


def spec_frontend(spec: FeatureSpec, finetune: bool = False,
                  speed_perturb: list[float] | None = None,
                  utterance_mvn: bool = False, spec_augment=None,
                  peft: PeftConfig | None = None, upstream: nn.Module | None = None,
                  precision: str = "float32") -> Frontend:
    """A `Frontend` computing the features of ``spec`` from audio; ``peft``: the methods
    that adapt the upstream (`ssltk.peft.apply_peft`); ``upstream``: use this module (shared
    by several frontends, `ssltk.tasks.multitask`) instead of loading ``spec.upstream``;
    ``precision``: what the frozen upstream computes in."""
    upstream, featurizer = spec.build(upstream)
    fingerprint = None if finetune else upstream_fingerprint(upstream)
    adapted = bool(peft and peft.methods())
    if adapted:
        apply_peft(upstream, peft, finetune=finetune)
    return Frontend(upstream, featurizer, finetune=finetune, speed_perturb=speed_perturb,
                    utterance_mvn=utterance_mvn, spec_augment=spec_augment,
                    adapted=adapted, upstream_fingerprint=fingerprint, precision=precision)


def build_frontend(cfg, input_dim: int | None = None, upstream: nn.Module | None = None) -> Frontend:
    """A `Frontend` from a `FrontendConfig`; ``input_dim`` given: precomputed features;
    ``upstream`` given: that module instead of ``cfg.upstream`` (see `spec_frontend`)."""
    if input_dim is not None:
        return Frontend(input_dim=input_dim, speed_perturb=cfg.speed_perturb,
                        utterance_mvn=cfg.utterance_mvn, spec_augment=cfg.spec_augment)
    return spec_frontend(frontend_spec(cfg), finetune=cfg.finetune_upstream,
                         speed_perturb=cfg.speed_perturb, utterance_mvn=cfg.utterance_mvn,
                         spec_augment=cfg.spec_augment, peft=cfg.peft, upstream=upstream,
                         precision=cfg.precision)


def frontend_for_dump(info: dict, utterance_mvn: bool = False) -> Frontend:
    """The on-the-fly frontend that computes what a feature dump holds (its
    ``feats_info.yaml``); an error when no upstream made the features."""
    return spec_frontend(FeatureSpec.from_info(info), utterance_mvn=utterance_mvn)
