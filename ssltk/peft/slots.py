"""Where a method plugs into the shared transformer (`ssltk.upstream.transformer`)."""

from __future__ import annotations

from torch import nn

SLOT_OF_PLACEMENT = {"attn": "attn_adapter", "ffn": "ffn_adapter"}


def fill_slot(layer: nn.Module, placement: str, module: nn.Module) -> None:
    """Put ``module`` in a layer's adapter slot; an occupied slot runs both, in order."""
    name = SLOT_OF_PLACEMENT[placement]
    current = getattr(layer, name)
    setattr(layer, name, module if isinstance(current, nn.Identity) else nn.Sequential(current, module))
