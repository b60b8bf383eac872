"""Prefix tuning (Li & Liang, "Prefix-Tuning: Optimizing Continuous Prompts for
Generation", ACL 2021), on the keys and values of every self-attention layer."""

from __future__ import annotations

import torch
from torch import nn

from ssltk.peft.config import PrefixConfig


class AttentionPrefix(nn.Module):
    """``length`` learned keys and values per head: ``forward(batch)`` returns
    ``(keys, values)`` of shape ``[batch, heads, length, head_dim]``."""

    def __init__(self, num_heads: int, head_dim: int, length: int):
        super().__init__()
        self.keys = nn.Parameter(torch.randn(num_heads, length, head_dim) * 0.02)
        self.values = nn.Parameter(torch.randn(num_heads, length, head_dim) * 0.02)

    def forward(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.keys.expand(batch, -1, -1, -1), self.values.expand(batch, -1, -1, -1))


def apply(encoder: nn.Module, cfg: PrefixConfig) -> None:
    for layer in encoder.layers:
        attention = layer.attention
        layer.prefix = AttentionPrefix(attention.num_heads, attention.head_dim, cfg.length)
