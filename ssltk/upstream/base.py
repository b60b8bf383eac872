"""The upstream contract shared by every model family, and length/mask helpers."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


class Upstream(nn.Module):
    """Base class of everything :func:`ssltk.hub.load` returns.

    ``forward(wavs[B, T] float, wav_lens[B] long) -> (hidden_states, lens)`` where
    ``hidden_states`` is a list of ``num_layers + 1`` tensors ``[B, T', D]`` (entry 0 is
    the input of the first transformer layer, the last entry the encoder output) and
    ``lens[B]`` the number of valid frames per utterance. Audio must already be at
    ``sample_rate``; the upstream takes no rate argument.
    """

    num_layers: int
    hidden_size: int
    downsample_rate: int
    sample_rate: int

    @property
    def frame_rate(self) -> float:
        """Output frames per second."""
        return self.sample_rate / self.downsample_rate

    def num_frames(self, wav_lens: torch.Tensor) -> torch.Tensor:
        """Valid output frames for each input length (exact, see subclasses)."""
        raise NotImplementedError

    def macs(self, num_samples: int) -> int:
        """Multiply-accumulates for one utterance of ``num_samples`` samples."""
        raise NotImplementedError


@torch.no_grad()
def upstream_fingerprint(upstream: nn.Module) -> str:
    """SHA-1 of an upstream's state (names, shapes, values): detects a changed checkpoint."""
    digest = hashlib.sha1()
    for name, value in upstream.state_dict().items():
        if torch.is_tensor(value):
            value = value.detach().cpu().contiguous()
            digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}".encode())
            digest.update(value.view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def valid_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """``[B, max_len]`` bool mask, True on valid positions."""
    return torch.arange(max_len, device=lens.device)[None, :] < lens[:, None]


def check_inputs(wavs: torch.Tensor, wav_lens: torch.Tensor) -> None:
    """Validate the ``(wavs, wav_lens)`` pair of the upstream contract."""
    if wavs.dim() != 2:
        raise ValueError(f"wavs must be [batch, samples], got shape {tuple(wavs.shape)}")
    if wav_lens.dim() != 1 or wav_lens.shape[0] != wavs.shape[0]:
        raise ValueError(f"wav_lens must be [batch] = [{wavs.shape[0]}], got shape {tuple(wav_lens.shape)}")
    if bool((wav_lens > wavs.shape[1]).any()) or bool((wav_lens < 0).any()):
        raise ValueError(f"wav_lens {wav_lens.tolist()} must lie in [0, {wavs.shape[1]}]")


def normalize_waveforms(wavs: torch.Tensor, wav_lens: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over its valid samples (padding stays 0).

    Equals ``F.layer_norm(wav, wav.shape)`` on each unpadded utterance, as fairseq's
    ``normalize=True`` task option does.
    """
    mask = valid_mask(wav_lens, wavs.shape[1]).to(wavs.dtype)
    count = wav_lens.clamp(min=1).to(wavs.dtype)[:, None]
    mean = (wavs * mask).sum(1, keepdim=True) / count
    centered = (wavs - mean) * mask
    var = centered.square().sum(1, keepdim=True) / count
    return centered * torch.rsqrt(var + eps)
