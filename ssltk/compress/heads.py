"""Attention-head pruning and skip-ahead (seed 001: "head pruning keeps phone recognition
but loses speaker identification"; heads whose attention maps are nearly diagonal are
replaced by the identity).

Both are architecture changes recorded in `EncoderConfig` (``kept_heads``,
``identity_heads``), so a pruned upstream is a normal checkpoint whose projections hold only
the kept heads' rows and columns: its parameters and MACs shrink for real.

* `head_importance`: the L1 norm of each head's weights (its rows of the query, key and
  value projections and its columns of the output projection).
* `prune_heads`: a new upstream without the given heads; equal to the original with those
  heads masked (``head_masks``), which the tests check.
* `diagonality`: per head, the attention mass on the diagonal band (|query - key| <= 1
  frame), averaged over the valid frames of some audio.
* `skip_ahead`: a new upstream whose heads at or above a diagonality threshold are identity.
"""

from __future__ import annotations

import torch

from ssltk.upstream.base import valid_mask
from ssltk.upstream.ssl_model import SSLUpstream


def head_importance(upstream: SSLUpstream) -> list[torch.Tensor]:
    """Per layer, ``[kept heads]`` L1 norms of each head's projection weights."""
    scores = []
    for layer in upstream.encoder.layers:
        att = layer.attention
        hd = att.head_dim
        rows = sum(p.weight.detach().abs().view(att.num_heads, hd, -1).sum((1, 2))
                   for p in (att.q_proj, att.k_proj, att.v_proj))
        cols = att.out_proj.weight.detach().abs().view(-1, att.num_heads, hd).sum((0, 2))
        scores.append(rows + cols)
    return scores


def _rebuild(upstream: SSLUpstream, kept: dict[int, list[int]], identity: dict[int, list[int]]) -> SSLUpstream:
    """A new upstream of the same weights with other kept / identity heads (original indices)."""
    cfg = upstream.config.replace(kept_heads=kept, identity_heads=identity)
    new = SSLUpstream(cfg)
    state = upstream.state_dict()
    for i, (old_layer, new_layer) in enumerate(zip(upstream.encoder.layers, new.encoder.layers)):
        old, now = old_layer.attention, new_layer.attention
        if old.heads == now.heads:
            continue
        where = [old.heads.index(h) for h in now.heads]  # positions among the old kept heads
        rows = torch.tensor([p * old.head_dim + j for p in where for j in range(old.head_dim)], dtype=torch.long)
        prefix = f"encoder.layers.{i}.attention."
        for name in ("q_proj", "k_proj", "v_proj"):
            state[prefix + name + ".weight"] = state[prefix + name + ".weight"][rows]
            state[prefix + name + ".bias"] = state[prefix + name + ".bias"][rows]
        state[prefix + "out_proj.weight"] = state[prefix + "out_proj.weight"][:, rows]
    new.load_state_dict(state)
    new.pretraining_heads = dict(upstream.pretraining_heads)
    return new.train(upstream.training)


def prune_heads(upstream: SSLUpstream, drop: dict[int, list[int]]) -> SSLUpstream:
    """A copy without the heads ``drop`` ({layer: [original head index]})."""
    kept = {i: [h for h in layer.attention.heads if h not in set(drop.get(i, ()))]
            for i, layer in enumerate(upstream.encoder.layers)}
    kept = {i: heads for i, heads in kept.items() if len(heads) < upstream.config.num_heads}
    identity = {i: [h for h in heads if h in kept.get(i, heads)]
                for i, heads in upstream.config.identity_heads.items()}
    return _rebuild(upstream, kept, {i: h for i, h in identity.items() if h})


def least_important(upstream: SSLUpstream, count: int) -> dict[int, list[int]]:
    """The ``count`` kept heads of smallest `head_importance` over all layers."""
    ranked = sorted((float(score), i, layer.attention.heads[j])
                    for i, (layer, scores) in enumerate(zip(upstream.encoder.layers, head_importance(upstream)))
                    for j, score in enumerate(scores))
    drop: dict[int, list[int]] = {}
    for _, i, head in ranked[:count]:
        drop.setdefault(i, []).append(head)
    return drop


@torch.no_grad()
def diagonality(upstream: SSLUpstream, wavs: torch.Tensor, wav_lens: torch.Tensor, band: int = 1) -> list[torch.Tensor]:
    """Per layer, ``[kept heads]``: mean attention mass within ``band`` frames of the
    diagonal over the valid query frames of the batch."""
    hidden, lens = upstream(wavs, wav_lens)
    encoder, scores = upstream.encoder, []
    for index, layer in enumerate(encoder.layers):
        x = hidden[index]
        frames = x.shape[1]
        mask = valid_mask(lens.clamp(min=1), frames)
        bias = encoder.rel_pos_bias(frames) if encoder.rel_pos_bias is not None else None
        inputs = layer.attn_norm(x) if layer.layer_norm_first else x
        probs = layer.attention.probabilities(inputs, mask, bias)  # [B, H, T, T]
        offsets = torch.arange(frames, device=x.device)
        near = ((offsets[:, None] - offsets[None, :]).abs() <= band).to(probs.dtype)
        mass = (probs * near).sum(-1)  # [B, H, T]
        weights = mask[:, None, :].to(probs.dtype)
        scores.append((mass * weights).sum((0, 2)) / weights.sum((0, 2)).clamp(min=1))
    return scores


def skip_ahead(upstream: SSLUpstream, wavs: torch.Tensor, wav_lens: torch.Tensor,
               threshold: float, band: int = 1) -> tuple[SSLUpstream, dict[int, list[int]]]:
    """A copy whose heads with `diagonality` >= ``threshold`` attend by identity; also
    returns those heads ({layer: [original head index]})."""
    chosen: dict[int, list[int]] = {}
    for i, (layer, scores) in enumerate(zip(upstream.encoder.layers, diagonality(upstream, wavs, wav_lens, band))):
        heads = [h for h, score in zip(layer.attention.heads, scores.tolist()) if score >= threshold]
        merged = sorted(set(heads) | set(upstream.config.identity_heads.get(i, ())))
        if merged:
            chosen[i] = merged
    return _rebuild(upstream, dict(upstream.config.kept_heads), chosen), chosen
