"""Sequence compression inside an upstream: modules for ``encoder.between_layers[i]``
(`ssltk.upstream.transformer`), called as ``(x [B, T, D], lens [B]) -> (y [B, T', D], lens')``
after layer ``i``; the encoder rebuilds its padding mask from the lengths they return.

* `FixedSubsample`: the mean of every ``factor`` consecutive frames (50 Hz -> 25, 16.7,
  12.5, 10 Hz for factors 2-5): fixed-length subsampling.
* `CodeSegmentSubsample`: the mean of each run of frames with the same nearest k-means
  centroid (the upstream's own codes): variable-length subsampling, whose output rate
  follows the speech (Meng et al. / the seed's "segments from repetitions of codes").

Both use only each utterance's valid frames, so a batch gives what each utterance gives
alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.errors import UserError
from ssltk.upstream.base import valid_mask

KINDS = ("fixed", "codes")


def parse_subsample(spec: str) -> tuple[str, int]:
    """``"fixed:2"`` -> ``("fixed", 2)``; ``"codes:100"`` -> ``("codes", 100)``."""
    kind, _, value = str(spec).partition(":")
    if kind not in KINDS or not value.isdigit() or int(value) < 1:
        raise UserError(f"subsample {spec!r}: expected fixed:F or codes:K with a positive integer")
    return kind, int(value)


def build_subsampler(spec: str, dim: int) -> nn.Module:
    """The module of a ``subsample`` spec (`parse_subsample`); "codes" starts with zero
    centroids, which the checkpoint's weights replace."""
    kind, value = parse_subsample(spec)
    return FixedSubsample(value) if kind == "fixed" else CodeSegmentSubsample(torch.zeros(value, dim))


def pool_segments(x: torch.Tensor, lens: torch.Tensor, segment: torch.Tensor,
                  num_segments: torch.Tensor) -> torch.Tensor:
    """Mean of ``x[B, T, D]`` over the frames of each segment: ``segment[B, T]`` is the
    segment index of every frame (ignored past ``lens``), ``num_segments[B]`` the count;
    returns ``[B, max(num_segments), D]`` with zero padding."""
    batch, frames, dim = x.shape
    valid = valid_mask(lens, frames)
    width = max(int(num_segments.max()) if batch else 0, 0)
    index = torch.where(valid, segment, torch.full_like(segment, width))  # padding -> a spare row
    sums = x.new_zeros(batch, width + 1, dim).scatter_add_(1, index[..., None].expand(-1, -1, dim), x)
    counts = x.new_zeros(batch, width + 1).scatter_add_(1, index, valid.to(x.dtype))
    return (sums / counts.clamp(min=1)[..., None])[:, :width]


class FixedSubsample(nn.Module):
    """Mean of non-overlapping windows of ``factor`` frames; ``ceil(lens / factor)`` frames
    (a last, partial window averages its valid frames)."""

    def __init__(self, factor: int):
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        self.factor = factor

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.arange(x.shape[1], device=x.device)
        segment = torch.div(frames, self.factor, rounding_mode="floor").expand(x.shape[0], -1)
        out_lens = self.output_lengths(lens)
        return pool_segments(x, lens, segment, out_lens), out_lens

    def output_lengths(self, lens: torch.Tensor) -> torch.Tensor:
        return torch.div(lens + self.factor - 1, self.factor, rounding_mode="floor")

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class CodeSegmentSubsample(nn.Module):
    """Mean of each run of consecutive frames that share their nearest centroid
    (``centroids [K, D]``, e.g. k-means of this layer's features, stored with the model)."""

    def __init__(self, centroids: torch.Tensor):
        super().__init__()
        self.register_buffer("centroids", centroids.detach().clone().float())

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest centroid of every frame ``[B, T]`` (squared Euclidean distance)."""
        c = self.centroids.to(x.dtype)
        distance = (x.square().sum(-1, keepdim=True) - 2 * x @ c.t() + c.square().sum(-1))
        return distance.argmin(-1)

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.codes(x)
        starts = F.pad(codes[:, 1:] != codes[:, :-1], (1, 0), value=True)
        starts &= valid_mask(lens, x.shape[1])
        segment = starts.long().cumsum(1) - 1
        num_segments = starts.sum(1)
        return pool_segments(x, lens, segment.clamp(min=0), num_segments), num_segments

    def output_lengths(self, lens: torch.Tensor) -> torch.Tensor:
        raise UserError("code-segment subsampling has a variable frame rate: the number of frames "
                        "is known only from running the model (its returned lengths)")

    def extra_repr(self) -> str:
        return f"codes={self.centroids.shape[0]}"
