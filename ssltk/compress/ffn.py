"""FC pruning (seed 001, "pruning the FC layers"): remove feed-forward units, i.e. rows of
``fc1`` and the matching columns of ``fc2``, by the L1 norm of their weights.  The kept
sizes are part of the architecture (`EncoderConfig.ffn_sizes`), so the result is a normal,
smaller checkpoint.  Iterate with continued pre-training in between, as for the other
pruning methods (``model.upstream`` of a pre-training config: the previous result)."""

from __future__ import annotations

import torch

from ssltk.upstream.ssl_model import SSLUpstream


def unit_importance(upstream: SSLUpstream) -> list[torch.Tensor]:
    """Per layer, ``[units]``: L1 norm of each unit's ``fc1`` row (and bias) and ``fc2`` column."""
    scores = []
    for layer in upstream.encoder.layers:
        fc1, fc2 = layer.ffn.fc1, layer.ffn.fc2
        scores.append(fc1.weight.detach().abs().sum(1) + fc1.bias.detach().abs() + fc2.weight.detach().abs().sum(0))
    return scores


def prune_ffn(upstream: SSLUpstream, fraction: float) -> SSLUpstream:
    """A copy keeping, in every layer, the ``1 - fraction`` most important units."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    keep = {}
    for i, scores in enumerate(unit_importance(upstream)):
        count = len(scores) - int(fraction * len(scores))
        keep[i] = scores.topk(count).indices.sort().values
    cfg = upstream.config.replace(ffn_sizes={i: len(units) for i, units in keep.items()})
    new = SSLUpstream(cfg)
    state = upstream.state_dict()
    for i, units in keep.items():
        prefix = f"encoder.layers.{i}.ffn."
        state[prefix + "fc1.weight"] = state[prefix + "fc1.weight"][units]
        state[prefix + "fc1.bias"] = state[prefix + "fc1.bias"][units]
        state[prefix + "fc2.weight"] = state[prefix + "fc2.weight"][:, units]
    new.load_state_dict(state)
    new.pretraining_heads = dict(upstream.pretraining_heads)
    return new.train(upstream.training)
