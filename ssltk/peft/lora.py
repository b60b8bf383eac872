"""LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ssltk.peft.config import LoraConfig

_OWNER = {"q_proj": "attention", "k_proj": "attention", "v_proj": "attention",
          "out_proj": "attention", "fc1": "ffn", "fc2": "ffn"}


class LoRALinear(nn.Module):
    """``base(x) + scale * (dropout(x) A^T) B^T`` with ``A[rank, in]`` (Kaiming-uniform) and
    ``B[out, rank]`` (zeros), so the module starts equal to ``base``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.in_features, self.out_features = base.in_features, base.out_features
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low_rank = self.dropout(x) @ self.lora_a.t().to(x.dtype) @ self.lora_b.t().to(x.dtype)
        return self.base(x) + self.scale * low_rank

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (for inference)."""
        linear = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None)
        linear.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
        if self.base.bias is not None:
            linear.bias.copy_(self.base.bias)
        return linear.to(self.base.weight.device)


def apply(encoder: nn.Module, cfg: LoraConfig) -> None:
    for layer in encoder.layers:
        for name in cfg.targets:
            owner = getattr(layer, _OWNER[name])
            setattr(owner, name, LoRALinear(getattr(owner, name), cfg.rank, cfg.alpha, cfg.dropout))
