"""AdapterBias (Fu et al., "AdapterBias: Parameter-efficient Token-dependent Representation
Shift for Adapters in NLP Tasks", Findings of NAACL 2022)."""

from __future__ import annotations

import torch
from torch import nn

from ssltk.peft.config import AdapterBiasConfig
from ssltk.peft.slots import fill_slot


class TokenShift(nn.Module):
    """``x + alpha(x) * shift``: one learned vector per layer, scaled per frame by a linear
    map of the frame.  ``alpha`` starts at zero, so the module starts as identity."""

    def __init__(self, dim: int):
        super().__init__()
        self.shift = nn.Parameter(torch.ones(dim))
        self.alpha = nn.Linear(dim, 1)
        nn.init.zeros_(self.alpha.weight)
        nn.init.zeros_(self.alpha.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.alpha(x) * self.shift


def apply(encoder: nn.Module, cfg: AdapterBiasConfig) -> None:
    for layer in encoder.layers:
        for placement in cfg.placement:
            fill_slot(layer, placement, TokenShift(layer.attn_norm.normalized_shape[0]))
