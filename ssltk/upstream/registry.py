"""Named upstreams: architectures (random init), Kaldi features and ssltk's shipped models.

An architecture name (``hubert_base``, ``hubert_debug``...) builds a *randomly initialised*
model: no weights are downloaded. The initialisation is seeded from the name (``seed=``
overrides it) and leaves the global RNG untouched, so two loads of a name give the same
model. Dropout and layerdrop values are pre-training settings; they have no effect in eval
mode. ``fbank`` / ``mfcc`` are Kaldi features. The shipped names (``ssltk_mini``,
``ssltk_mini_student``) load the real weights that ssltk pre-trained itself
(``egs2/ssltk_mini/ssl1``), stored in ``ssltk/upstream/weights/`` with their model card.
Other pre-trained weights come from a checkpoint path given to :func:`ssltk.hub.load`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from ssltk.errors import UserError
from ssltk.upstream.base import Upstream
from ssltk.upstream.config import STANDARD_CONV_LAYERS, EncoderConfig
from ssltk.upstream.kaldi_features import KaldiFeatureConfig, KaldiFeatureUpstream
from ssltk.upstream.ssl_model import SSLUpstream

_BASE = dict(hidden_size=768, num_layers=12, num_heads=12, ffn_size=3072, feature_dropout=0.1, layerdrop=0.05)
_LARGE = dict(
    hidden_size=1024,
    num_layers=24,
    num_heads=16,
    ffn_size=4096,
    extractor_mode="layer_norm",
    layer_norm_first=True,
    normalize_waveform=True,
    feature_dropout=0.1,
)
_WAVLM = dict(relative_position_bias=True, num_buckets=320, max_distance=800, gated_relative_position=True)
# Debug stack: 4 convs with the standard 320-sample hop and a 325-sample receptive field.
_DEBUG = dict(
    conv_layers=[(32, 10, 5), (32, 4, 4), (32, 4, 4), (32, 4, 4)],
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    ffn_size=64,
    pos_conv_kernel=16,
    pos_conv_groups=4,
)
_DEBUG_STABLE = dict(
    _DEBUG, extractor_mode="layer_norm", conv_bias=True, layer_norm_first=True, normalize_waveform=True
)
_DEBUG_WAVLM = dict(relative_position_bias=True, num_buckets=16, max_distance=32, gated_relative_position=True)

SSL_CONFIGS: dict[str, EncoderConfig] = {
    "wav2vec2_base": EncoderConfig(family="wav2vec2", **_BASE),
    "wav2vec2_large_lv60": EncoderConfig(family="wav2vec2", conv_bias=True, **_LARGE),
    "hubert_base": EncoderConfig(family="hubert", **_BASE),
    "hubert_large": EncoderConfig(family="hubert", conv_bias=True, **_LARGE),
    "wavlm_base": EncoderConfig(family="wavlm", **_BASE, **_WAVLM),
    "wavlm_base_plus": EncoderConfig(family="wavlm", **_BASE, **_WAVLM),
    "wavlm_large": EncoderConfig(family="wavlm", **_LARGE, **_WAVLM),
    "distilhubert": EncoderConfig(
        family="distilhubert", conv_layers=list(STANDARD_CONV_LAYERS), **dict(_BASE, num_layers=2, layerdrop=0.0)
    ),
    "melhubert_base": EncoderConfig(
        family="melhubert", frontend="fbank", conv_layers=[], **dict(_BASE, layerdrop=0.0)
    ),
    # ssltk_mini's architecture with random weights: the control that shows what its
    # pre-training adds (the same frontend, layers and width; test_shipped_upstreams checks it)
    "ssltk_mini_random": EncoderConfig(
        family="melhubert", frontend="fbank", conv_layers=[],
        **dict(_BASE, layerdrop=0.0, hidden_size=256, num_layers=6, num_heads=4, ffn_size=768,
               pos_conv_kernel=32, pos_conv_groups=8, activation_dropout=0.1)
    ),
    "wav2vec2_debug": EncoderConfig(family="wav2vec2", **_DEBUG),
    "wav2vec2_stable_debug": EncoderConfig(family="wav2vec2", **_DEBUG_STABLE),
    "hubert_debug": EncoderConfig(family="hubert", **_DEBUG),
    "wavlm_debug": EncoderConfig(family="wavlm", **_DEBUG, **_DEBUG_WAVLM),
    "wavlm_stable_debug": EncoderConfig(family="wavlm", **_DEBUG_STABLE, **_DEBUG_WAVLM),
    "distilhubert_debug": EncoderConfig(family="distilhubert", **_DEBUG),
    "melhubert_debug": EncoderConfig(family="melhubert", frontend="fbank", **dict(_DEBUG, conv_layers=[])),
}

_DESCRIPTIONS = {
    "wav2vec2_base": "wav2vec 2.0 Base: group-norm CNN, post-LN, 12 x 768",
    "wav2vec2_large_lv60": "wav2vec 2.0 Large (LV-60k): layer-norm CNN, pre-LN, 24 x 1024",
    "hubert_base": "HuBERT Base: group-norm CNN, post-LN, 12 x 768",
    "hubert_large": "HuBERT Large: layer-norm CNN, pre-LN, 24 x 1024",
    "wavlm_base": "WavLM Base: HuBERT Base + gated relative position bias",
    "wavlm_base_plus": "WavLM Base+: same architecture as WavLM Base",
    "wavlm_large": "WavLM Large: layer-norm CNN, pre-LN, 24 x 1024, gated relative position bias",
    "distilhubert": "DistilHuBERT: HuBERT Base CNN + 2 layers (prediction heads not included)",
    "melhubert_base": "MelHuBERT Base: 80-dim log-Mel stacked to 20 ms, 12 x 768",
    "ssltk_mini_random": "ssltk_mini's architecture (MelHuBERT, 6 x 256), the control for its pre-training",
    "fbank": "Kaldi fbank, 80 bins, 25 ms / 10 ms",
    "mfcc": "Kaldi MFCC, 13 coefficients (39 with deltas=True), 25 ms / 10 ms",
}


WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# name -> (file in WEIGHTS_DIR, description); the model card is WEIGHTS_DIR / "README.md"
SHIPPED = {
    "ssltk_mini": ("ssltk_mini.pt", "ssltk's reference MelHuBERT, 6 x 256, pre-trained by "
                   "egs2/ssltk_mini/ssl1 (shipped weights)"),
    "ssltk_mini_student": ("ssltk_mini_student.pt", "DistilHuBERT student of ssltk_mini, 2 x 256 "
                           "(shipped weights)"),
}


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    description: str
    build: Callable[..., Upstream]
    weights: Literal["random", "features", "shipped"]  # random init, no weights, real weights


def _ssl_builder(name: str, cfg: EncoderConfig) -> Callable[..., Upstream]:
    def build(seed: int | None = None, **overrides: Any) -> Upstream:
        config = cfg.replace(**overrides)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(zlib.crc32(name.encode()) if seed is None else seed)
            return SSLUpstream(config).eval()

    return build


def _kaldi_builder(kind: str) -> Callable[..., Upstream]:
    def build(**overrides: Any) -> Upstream:
        try:
            return KaldiFeatureUpstream(KaldiFeatureConfig(kind=kind, **overrides)).eval()
        except TypeError as err:
            raise UserError(f"invalid override for {kind}: {err}") from err

    return build


def _shipped_builder(name: str, file: str) -> Callable[..., Upstream]:
    def build(**overrides: Any) -> Upstream:
        from ssltk.upstream.checkpoint import apply_overrides, load_upstream

        path = WEIGHTS_DIR / file
        if not path.is_file():
            raise UserError(f"{name}: its weights {path} are missing from this installation "
                            f"(reinstall ssltk, or rebuild them with egs2/ssltk_mini/ssl1)")
        return apply_overrides(load_upstream(path), overrides).eval()

    return build


def _describe(name: str, cfg: EncoderConfig) -> str:
    if name in _DESCRIPTIONS:
        return _DESCRIPTIONS[name] + " (random init)"
    return f"tiny {cfg.family} for tests: {cfg.num_layers} x {cfg.hidden_size}" + (
        ", pre-LN" if cfg.layer_norm_first else ""
    ) + " (random init)"


REGISTRY: dict[str, RegistryEntry] = {
    **{name: RegistryEntry(name, _describe(name, cfg), _ssl_builder(name, cfg), "random")
       for name, cfg in SSL_CONFIGS.items()},
    "fbank": RegistryEntry("fbank", _DESCRIPTIONS["fbank"], _kaldi_builder("fbank"), "features"),
    "mfcc": RegistryEntry("mfcc", _DESCRIPTIONS["mfcc"], _kaldi_builder("mfcc"), "features"),
    **{name: RegistryEntry(name, description, _shipped_builder(name, file), "shipped")
       for name, (file, description) in SHIPPED.items()},
}
