"""Unstructured weight pruning by magnitude (seed 001: "weight pruning compresses most while
keeping performance"), made iterative by continued masked-prediction pre-training between
steps (`ssltk.pretraining.masked_prediction`, ``model.prune``).

`prune_by_magnitude` replaces the encoder's projections (attention q/k/v/out, FFN fc1/fc2)
with `MaskedLinear`: ``weight * mask`` in the forward, so a pruned weight contributes nothing
and gets no gradient, whatever the optimiser does with it; the mask is a buffer, saved and
resumed with the model.  `unmask` turns them back into ``nn.Linear`` holding the zeros, a
normal checkpoint any recipe loads; `count_nonzero` counts what is left.  Pruning again from
such a checkpoint keeps every earlier zero pruned (zeros have the smallest magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.train.config import require

Projection = Literal["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
_OWNER = {"q_proj": "attention", "k_proj": "attention", "v_proj": "attention",
          "out_proj": "attention", "fc1": "ffn", "fc2": "ffn"}


@dataclass
class PruneConfig:
    """``model.prune`` of a pre-training config: prune to ``sparsity`` before training."""

    sparsity: float = 0.5  # fraction of the targets' weights set to zero
    scope: Literal["global", "layer"] = "global"  # one threshold for all targets, or per matrix
    targets: list[Projection] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"])

    def __post_init__(self) -> None:
        require(0.0 <= self.sparsity < 1.0, "sparsity", f"must be in [0, 1), got {self.sparsity}")
        require(len(set(self.targets)) == len(self.targets) >= 1, "targets",
                f"a non-empty list of distinct projections, got {self.targets}")


class MaskedLinear(nn.Module):
    """``F.linear(x, weight * mask, bias)`` with the weight and bias of ``base``."""

    def __init__(self, base: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.register_buffer("mask", torch.ones_like(base.weight, dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    def linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the pruned weights set to zero."""
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.weight * self.mask)
            if self.bias is not None:
                out.bias.copy_(self.bias)
        return out.to(self.weight.device)


def _targets(upstream: nn.Module, names: list[str]) -> list[tuple[nn.Module, str]]:
    return [(getattr(layer, _OWNER[name]), name) for layer in upstream.encoder.layers for name in names]


@torch.no_grad()
def prune_by_magnitude(upstream: nn.Module, cfg: PruneConfig) -> float:
    """Mask the smallest weights of the target projections; returns the sparsity reached
    over them (ties at the threshold may prune a little more than asked)."""
    modules = []
    for owner, name in _targets(upstream, cfg.targets):
        module = getattr(owner, name)
        if not isinstance(module, MaskedLinear):
            module = MaskedLinear(module)
            setattr(owner, name, module)
        modules.append(module)
    if cfg.sparsity > 0:
        if cfg.scope == "global":
            magnitudes = torch.cat([(m.weight * m.mask).abs().flatten() for m in modules])
            k = int(cfg.sparsity * magnitudes.numel())
            threshold = magnitudes.kthvalue(k).values if k > 0 else magnitudes.new_tensor(-1.0)
            for m in modules:
                m.mask &= (m.weight * m.mask).abs() > threshold
        else:
            for m in modules:
                magnitudes = (m.weight * m.mask).abs().flatten()
                k = int(cfg.sparsity * magnitudes.numel())
                if k > 0:
                    m.mask &= (m.weight * m.mask).abs() > magnitudes.kthvalue(k).values
    total = sum(m.mask.numel() for m in modules)
    return 1.0 - sum(int(m.mask.sum()) for m in modules) / max(total, 1)


def unmask(upstream: nn.Module) -> nn.Module:
    """Replace every `MaskedLinear` by an ``nn.Linear`` holding its zeros (in place)."""
    for owner, name in _targets(upstream, list(_OWNER)):
        module = getattr(owner, name)
        if isinstance(module, MaskedLinear):
            setattr(owner, name, module.linear())
    return upstream


def count_nonzero(module: nn.Module) -> int:
    """Parameters that are not zero; a `MaskedLinear`'s pruned weights do not count."""
    masked = {id(m.weight): m.mask for m in module.modules() if isinstance(m, MaskedLinear)}
    return sum(int((p * masked[id(p)]).count_nonzero()) if id(p) in masked else int(p.count_nonzero())
               for p in module.parameters())
