"""Houlsby bottleneck adapters (Houlsby et al., "Parameter-Efficient Transfer Learning for
NLP", ICML 2019)."""

from __future__ import annotations

import torch
from torch import nn

from ssltk.peft.config import HoulsbyConfig
from ssltk.peft.slots import fill_slot


class BottleneckAdapter(nn.Module):
    """``x + up(gelu(down(x)))``; ``up`` starts at zero, so the adapter starts as identity."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.activation = nn.GELU()
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.activation(self.down(x)))


def apply(encoder: nn.Module, cfg: HoulsbyConfig) -> None:
    for layer in encoder.layers:
        for placement in cfg.placement:
            fill_slot(layer, placement, BottleneckAdapter(layer.attn_norm.normalized_shape[0], cfg.bottleneck))
