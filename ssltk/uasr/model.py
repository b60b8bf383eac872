"""wav2vec-U 2.0 networks: generator, discriminator and the JOIN segmenter.

Shapes follow the rest of ssltk: ``[B, T, C]`` with integer ``lens``.  Defaults are those of fairseq's
``config/gan/w2vu2.yaml`` (Baevski et al. 2021; Liu et al. 2022, "Towards
end-to-end unsupervised speech recognition").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.train.config import require
from ssltk.upstream.base import valid_mask


@dataclass
class GeneratorConfig:
    kernel: int = 9
    stride: int = 3
    dropout: float = 0.1
    batch_norm: float = 30.0  # initial BatchNorm scale; 0: no batch norm
    residual: bool = True  # linear branch added to the input (feeds the k-means loss)
    bias: bool = False

    def __post_init__(self) -> None:
        require(self.kernel >= 1, "kernel", f"must be >= 1, got {self.kernel}")
        require(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.batch_norm >= 0, "batch_norm", f"must be >= 0, got {self.batch_norm}")


@dataclass
class DiscriminatorConfig:
    dim: int = 384
    depth: int = 2
    kernel: int = 8
    causal: bool = True
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(self.dim >= 1, "dim", f"must be >= 1, got {self.dim}")
        require(self.depth >= 1, "depth", f"must be >= 1, got {self.depth}")
        require(self.kernel >= 1, "kernel", f"must be >= 1, got {self.kernel}")


class Generator(nn.Module):
    """Speech features -> phone logits: batch norm over valid frames (scale initialised to
    ``batch_norm``), an optional residual linear branch, dropout, and one Conv1d
    (``kernel``, ``stride``) to the phone inventory."""

    def __init__(self, input_dim: int, num_phones: int, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.bn = None
        if cfg.batch_norm:
            self.bn = nn.BatchNorm1d(input_dim)
            with torch.no_grad():
                self.bn.weight.fill_(cfg.batch_norm)
        self.in_proj = nn.Linear(input_dim, input_dim) if cfg.residual else None
        self.proj = nn.Conv1d(input_dim, num_phones, cfg.kernel, stride=cfg.stride,
                              padding=cfg.kernel // 2, bias=cfg.bias)

    def output_lens(self, lens: torch.Tensor) -> torch.Tensor:
        """Valid output frames for ``lens`` input frames (every ``stride``-th input frame)."""
        return torch.div(lens + self.cfg.stride - 1, self.cfg.stride, rounding_mode="floor")

    def forward(self, x: torch.Tensor, lens: torch.Tensor):
        """``x [B, T, D]`` -> ``(logits [B, T', V], out_lens, residual [B, T, D] or None)``."""
        valid = valid_mask(lens, x.size(1))
        if self.bn is not None:  # statistics over valid frames only
            normed = torch.zeros_like(x)
            normed[valid] = self.bn(x[valid])
            x = normed
        residual = None
        if self.in_proj is not None:
            residual = self.in_proj(self.dropout(x))
            x = x + residual
        x = self.dropout(x) * valid.unsqueeze(-1)  # padding never leaks into valid outputs' conv
        logits = self.proj(x.transpose(1, 2)).transpose(1, 2)
        out_lens = self.output_lens(lens).clamp(max=logits.size(1))
        return logits, out_lens, residual


class Discriminator(nn.Module):
    """Phone distributions ``[B, T, V]`` -> one logit per sequence: causal convolutions
    (an embedding conv V -> dim, ``depth - 1`` conv + GELU blocks, a conv to 1 channel),
    averaged over the valid frames."""

    def __init__(self, num_phones: int, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        k, dim = cfg.kernel, cfg.dim
        layers: list[nn.Module] = [nn.Conv1d(num_phones, dim, k), nn.Dropout(cfg.dropout)]
        for _ in range(cfg.depth - 1):
            layers += [_Pad(k, cfg.causal), nn.Conv1d(dim, dim, k), nn.Dropout(cfg.dropout), nn.GELU()]
        layers += [_Pad(k, cfg.causal), nn.Conv1d(dim, 1, k)]
        self.net = nn.Sequential(_Pad(k, cfg.causal), *layers)

    def forward(self, x: torch.Tensor, lens: torch.Tensor | None = None) -> torch.Tensor:
        y = self.net(x.transpose(1, 2)).squeeze(1)  # [B, T]
        if lens is None:
            return y.mean(dim=1)
        valid = valid_mask(lens, y.size(1))
        return (y * valid).sum(dim=1) / lens.clamp(min=1).to(y.dtype)


class _Pad(nn.Module):
    """Pad time so that a following conv keeps the length: all on the left when causal
    (frame t sees frames <= t), centred otherwise."""

    def __init__(self, kernel: int, causal: bool):
        super().__init__()
        total = kernel - 1
        self.pad = (total, 0) if causal else (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)


def join_segments(logits: torch.Tensor, lens: torch.Tensor,
                  mode: Literal["random", "mean"]) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge runs of frames with the same argmax into one position (wav2vec-U 2.0's JOIN
    segmentation).  ``random``: a random frame of each run (training); ``mean``: the run's
    mean (evaluation).  Returns the joined logits ``[B, S, V]`` and the run counts."""
    B, _, V = logits.shape
    preds = logits.argmax(dim=-1).cpu()
    runs = []
    for b in range(B):
        _, counts = torch.unique_consecutive(preds[b, :int(lens[b])], return_counts=True)
        runs.append(counts)
    out_lens = torch.tensor([len(c) for c in runs], dtype=torch.long)
    joined = logits.new_zeros(B, int(out_lens.max()) if B else 0, V)
    for b, counts in enumerate(runs):
        if not len(counts):
            continue
        starts = torch.cumsum(counts, 0) - counts
        if mode == "random":
            index = starts + (torch.rand(len(counts)) * counts).long()
            joined[b, :len(counts)] = logits[b, index.to(logits.device)]
        else:
            owner = torch.repeat_interleave(torch.arange(len(counts)), counts).to(logits.device)
            sums = logits.new_zeros(len(counts), V).index_add_(0, owner, logits[b, :len(owner)])
            joined[b, :len(counts)] = sums / counts.to(logits.device, logits.dtype).unsqueeze(1)
    return joined, out_lens.to(logits.device)
