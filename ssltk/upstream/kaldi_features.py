"""Kaldi-compatible fbank / MFCC baselines behind the upstream contract.

Computed with ``torchaudio.compliance.kaldi`` per utterance on its valid samples (25 ms
window, 10 ms hop, povey window, ``snip_edges=True``, no dither). ``hidden_states`` is a
one-element list, ``num_layers == 0`` and ``downsample_rate == 160``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional

from ssltk.errors import UserError
from ssltk.upstream.base import Upstream, check_inputs
from ssltk.upstream.feature_encoders import fbank_macs_per_frame, kaldi_num_frames


@dataclass
class KaldiFeatureConfig:
    """``kind`` is "fbank" or "mfcc". ``num_mel_bins`` defaults to 80 for fbank and to
    Kaldi's 23 for MFCC (no energy term); ``deltas=True`` appends deltas and
    delta-deltas (window 2, edges replicated)."""

    kind: str = "fbank"
    num_mel_bins: int | None = None
    num_ceps: int = 13
    deltas: bool = False
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.kind not in ("fbank", "mfcc"):
            raise UserError(f"kind must be 'fbank' or 'mfcc', got {self.kind!r}")
        if self.num_mel_bins is None:
            self.num_mel_bins = 80 if self.kind == "fbank" else 23

    @property
    def dim(self) -> int:
        base = self.num_mel_bins if self.kind == "fbank" else self.num_ceps
        return base * (3 if self.deltas else 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KaldiFeatureUpstream(Upstream):
    """Parameter-free fbank/MFCC upstream."""

    def __init__(self, cfg: KaldiFeatureConfig):
        super().__init__()
        self.config = cfg
        self.num_layers = 0
        self.hidden_size = cfg.dim
        self.downsample_rate = 160
        self.sample_rate = cfg.sample_rate

    def num_frames(self, wav_lens: torch.Tensor) -> torch.Tensor:
        """Kaldi ``snip_edges=True`` count: ``1 + (L - 400) // 160``, 0 if ``L < 400``."""
        return kaldi_num_frames(wav_lens)

    def _features(self, wav: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        common = {"sample_frequency": float(cfg.sample_rate), "dither": 0.0}
        if cfg.kind == "fbank":
            feats = kaldi.fbank(wav[None], num_mel_bins=cfg.num_mel_bins, **common)
        else:
            feats = kaldi.mfcc(wav[None], num_ceps=cfg.num_ceps, num_mel_bins=cfg.num_mel_bins, **common)
        if cfg.deltas:
            per_dim = feats.transpose(0, 1)
            delta = torchaudio.functional.compute_deltas(per_dim)
            delta2 = torchaudio.functional.compute_deltas(delta)
            feats = torch.cat([per_dim, delta, delta2], dim=0).transpose(0, 1)
        return feats

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        check_inputs(wavs, wav_lens)
        wav_lens = wav_lens.to(device=wavs.device, dtype=torch.long)
        lens = self.num_frames(wav_lens)
        out = wavs.new_zeros(wavs.shape[0], int(lens.max()) if len(lens) else 0, self.hidden_size)
        for index, (length, frames) in enumerate(zip(wav_lens.tolist(), lens.tolist())):
            if frames > 0:
                out[index, :frames] = self._features(wavs[index, :length].float()).to(out.dtype)
        return [out], lens

    def macs(self, num_samples: int) -> int:
        """Per frame: FFT (``2 N log2 N``), Mel matmul, plus the DCT for MFCC; deltas not counted."""
        cfg = self.config
        frames = int(kaldi_num_frames(torch.tensor(num_samples)))
        per_frame = fbank_macs_per_frame(cfg.num_mel_bins)
        if cfg.kind == "mfcc":
            per_frame += cfg.num_mel_bins * cfg.num_ceps
        return frames * per_frame

    def extra_repr(self) -> str:
        return f"kind={self.config.kind}, dim={self.hidden_size}"
