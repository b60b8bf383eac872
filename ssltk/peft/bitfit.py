"""BitFit (Ben Zaken et al., "BitFit: Simple Parameter-efficient Fine-tuning for
Transformer-based Masked Language-models", ACL 2022): train the upstream's biases."""

from __future__ import annotations

from torch import nn


def apply(upstream: nn.Module, enabled: bool) -> None:
    """Every parameter named ``bias`` of the upstream trains (LayerNorm biases included)."""
    for name, param in upstream.named_parameters():
        if name.rsplit(".", 1)[-1] == "bias":
            param.requires_grad_(enabled)
