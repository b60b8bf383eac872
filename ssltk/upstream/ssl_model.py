"""The wav2vec 2.0-family upstream: frontend, feature projection, transformer encoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssltk.upstream.base import Upstream, check_inputs, normalize_waveforms
from ssltk.upstream.config import EncoderConfig
from ssltk.upstream.feature_encoders import ConvFeatureExtractor, LogMelEncoder, receptive_field
from ssltk.upstream.transformer import TransformerEncoder


class FeatureProjection(nn.Module):
    """LayerNorm over frontend channels, Linear to the hidden size, dropout."""

    def __init__(self, in_dim: int, out_dim: int, layer_norm: bool, project: bool, dropout: float, eps: float):
        super().__init__()
        self.norm: nn.Module = nn.LayerNorm(in_dim, eps=eps) if layer_norm else nn.Identity()
        self.linear: nn.Module = nn.Linear(in_dim, out_dim) if project else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear(self.norm(x)))

    def macs(self, frames: int) -> int:
        return frames * self.linear.in_features * self.linear.out_features if isinstance(self.linear, nn.Linear) else 0


class SSLUpstream(Upstream):
    """wav2vec 2.0 / HuBERT / WavLM / DistilHuBERT / MelHuBERT encoder (see ``EncoderConfig``).

    ``forward(wavs, wav_lens, **encoder_options)`` follows the upstream contract;
    ``encoder_options`` (``skip_layers``, ``head_masks``, ``prefix_kv``) are passed to
    :meth:`TransformerEncoder.forward`. ``pretraining_heads`` holds tensors of heads that
    are not part of the upstream (e.g. ``mask_emb``, ``final_proj.*``) when a checkpoint
    had them, so that writers and later pre-training can reuse them; they are not
    parameters of this module.
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.config = cfg
        self.num_layers = cfg.num_layers
        self.hidden_size = cfg.hidden_size
        self.downsample_rate = cfg.downsample_rate
        self.sample_rate = cfg.sample_rate
        if cfg.frontend == "fbank":
            self.feature_extractor: nn.Module = LogMelEncoder(cfg.num_mel_bins, cfg.stack_frames, cfg.sample_rate)
            self.min_samples = 400 + 160 * (cfg.stack_frames - 1)
        else:
            self.feature_extractor = ConvFeatureExtractor(cfg.conv_layers, cfg.extractor_mode, cfg.conv_bias)
            self.min_samples = receptive_field(cfg.conv_layers)
        self.feature_projection = FeatureProjection(
            cfg.frontend_dim,
            cfg.hidden_size,
            cfg.feature_layer_norm,
            cfg.feature_projection,
            cfg.feature_dropout,
            cfg.layer_norm_eps,
        )
        self.encoder = TransformerEncoder(cfg)
        self.pretraining_heads: dict[str, torch.Tensor] = {}

    def num_frames(self, wav_lens: torch.Tensor) -> torch.Tensor:
        """Exact frames per input length (conv: ``floor((L - k) / s) + 1`` per layer), after
        any fixed sequence subsampling (`EncoderConfig.subsample`)."""
        return self.encoder.output_lengths(self.feature_extractor.output_lengths(wav_lens))

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, **encoder_options: Any
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        check_inputs(wavs, wav_lens)
        wav_lens = wav_lens.to(device=wavs.device, dtype=torch.long)
        if wavs.shape[1] < self.min_samples:  # too short for a single frame
            lens = torch.zeros_like(wav_lens)
            empty = wavs.new_zeros(wavs.shape[0], 0, self.hidden_size)
            return [empty] * (self.num_layers + 1), lens
        features, lens = self.extract_features(wavs, wav_lens)
        return self.encoder(self.feature_projection(features), lens, **encoder_options)

    def extract_features(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frontend output before the feature projection: ``(features[B, T', C], lens[B])``.

        ``forward`` is ``encoder(feature_projection(extract_features(...)))``; masked-prediction
        pre-training (:mod:`ssltk.pretraining.masked_prediction`) calls the three steps itself to put its mask
        embedding before or after the projection. Needs ``wavs.shape[1] >= min_samples``.
        """
        wav_lens = wav_lens.to(device=wavs.device, dtype=torch.long)
        if self.config.normalize_waveform:
            wavs = normalize_waveforms(wavs, wav_lens)
        return self.feature_extractor(wavs, wav_lens)

    def macs(self, num_samples: int) -> int:
        frames = int(self.feature_extractor.output_lengths(torch.tensor([num_samples]))[0])
        return (
            self.feature_extractor.macs(num_samples)
            + self.feature_projection.macs(frames)
            + self.encoder.macs(frames)
        )

    def extra_repr(self) -> str:
        return f"family={self.config.family}, layers={self.num_layers}, hidden={self.hidden_size}"
