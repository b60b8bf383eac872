"""Transformer encoder shared by wav2vec 2.0, HuBERT, WavLM, DistilHuBERT and MelHuBERT.

Post-LN (base models): positional conv, LayerNorm, then layers ``x = LN(x + attn(x))``,
``x = LN(x + ffn(x))``. Pre-LN ("stable layer norm", large models): positional conv, then
layers ``x = x + attn(LN(x))``, ``x = x + ffn(LN(x))``, and a final LayerNorm.

Extension points (all plain attributes, swappable without monkey-patching):

* ``layer.attn_adapter`` / ``layer.ffn_adapter``: ``nn.Identity`` slots applied to the
  attention / feed-forward output before the residual add (same shape in and out).
* ``attention.q_proj/k_proj/v_proj/out_proj`` and ``ffn.fc1/fc2`` are ``nn.Linear``: a
  LoRA module can replace them.
* ``SelfAttention.forward(prefix_kv=(k, v))``: extra keys/values ``[B, H, P, head_dim]``
  prepended to the sequence (prefix tuning); ``head_mask[H]`` or ``[B, H]`` scales heads.
* ``layer.prefix``: ``None`` or a module ``batch -> (k, v)`` used when no ``prefix_kv`` is
  passed (learned prefixes, `ssltk.peft.prefix`).
* ``encoder.prompt``: ``None`` or a module ``batch -> [B, P, D]`` of vectors prepended to the
  first layer's input and removed from every returned hidden state (`ssltk.peft.prompt`).
* ``TransformerEncoder.forward(skip_layers=..., head_masks=..., prefix_kv=...)``.
* ``encoder.between_layers[i]``: runs after layer ``i`` as ``(x, lens) -> (x, lens)``;
  the default :class:`KeepSequence` does nothing. A module here may shorten time: the
  padding mask and relative-position bias are rebuilt from the lengths it returns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.compress.subsample import build_subsampler
from ssltk.upstream.base import valid_mask
from ssltk.upstream.config import EncoderConfig

_ACTIVATIONS = {
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "relu": nn.ReLU,
    "silu": nn.SiLU,
}


class ConvPositionalEmbedding(nn.Module):
    """Grouped conv over time with weight norm (dim 2), "same" length, then GELU.

    With an even kernel the symmetric padding yields one extra frame, which is removed.
    """

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.remove = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x[B, T, D] -> [B, T, D]`` (padded frames of ``x`` must be zero)."""
        y = self.conv(x.transpose(1, 2))
        if self.remove:
            y = y[:, :, : -self.remove]
        return F.gelu(y).transpose(1, 2)

    def macs(self, frames: int) -> int:
        conv = self.conv
        return frames * conv.out_channels * (conv.in_channels // conv.groups) * conv.kernel_size[0]


class RelativePositionBias(nn.Module):
    """WavLM's bucketed relative position bias ``[H, T, T]`` (shared by all layers).

    Offsets ``key - query`` map to ``num_buckets // 2`` buckets per direction: exact for
    distances below a quarter of ``num_buckets``, log-spaced up to ``max_distance``.
    """

    def __init__(self, num_buckets: int, max_distance: int, num_heads: int):
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.embedding = nn.Embedding(num_buckets, num_heads)

    def buckets(self, length: int, device: torch.device) -> torch.Tensor:
        positions = torch.arange(length, device=device)
        offset = positions[None, :] - positions[:, None]  # key - query
        half = self.num_buckets // 2
        exact = half // 2
        distance = offset.abs()
        log_ratio = torch.log(distance.clamp(min=1).float() / exact) / math.log(self.max_distance / exact)
        far = (exact + (log_ratio * (half - exact)).long()).clamp(max=half - 1)
        return (offset > 0).long() * half + torch.where(distance < exact, distance, far)

    def forward(self, length: int) -> torch.Tensor:
        return self.embedding(self.buckets(length, self.embedding.weight.device)).permute(2, 0, 1)


class RelativePositionGate(nn.Module):
    """Per-query gate of the WavLM position bias, computed from the attention input."""

    def __init__(self, head_dim: int, num_heads: int):
        super().__init__()
        self.linear = nn.Linear(head_dim, 8)
        self.scale = nn.Parameter(torch.ones(1, num_heads, 1, 1))

    def forward(self, x: torch.Tensor, num_heads: int) -> torch.Tensor:
        """``x[B, T, D] -> gate[B, H, T, 1]``."""
        batch, length, _ = x.shape
        heads = x.view(batch, length, num_heads, -1).transpose(1, 2)
        logits = self.linear(heads).view(batch, num_heads, length, 2, 4).sum(-1)
        gate_a, gate_b = torch.sigmoid(logits).chunk(2, dim=-1)
        return gate_a * (gate_b * self.scale - 1.0) + 2.0


class SelfAttention(nn.Module):
    """Multi-head self-attention over ``scaled_dot_product_attention``.

    ``heads``: the original indices of the heads this layer keeps (structured head pruning;
    default all ``num_heads``): the projections hold only their rows and columns and a WavLM
    position bias is indexed by them.  ``identity``: kept heads whose attention is the
    identity (skip-ahead): each frame's output is its own value vector, no scores computed.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, gated_position: bool,
                 heads: list[int] | None = None, identity: Collection[int] = ()):
        super().__init__()
        self.head_dim = dim // num_heads
        self.heads = list(range(num_heads)) if heads is None else list(heads)
        self.num_heads = len(self.heads)
        self.dropout = dropout
        inner = self.num_heads * self.head_dim
        with warnings.catch_warnings():  # every head pruned: zero-size projections
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            self.q_proj = nn.Linear(dim, inner)
            self.k_proj = nn.Linear(dim, inner)
            self.v_proj = nn.Linear(dim, inner)
            self.out_proj = nn.Linear(inner, dim)
        self.total_heads = num_heads  # before pruning (the WavLM gate reads every head's slice of x)
        self.rel_pos_gate = RelativePositionGate(self.head_dim, num_heads) if gated_position else None
        self.identity = [h in set(identity) for h in self.heads]  # per kept head
        self.all_heads = self.heads == list(range(num_heads))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        position_bias: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        prefix_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Attend over ``x[B, T, D]``.

        Args:
            key_mask: ``[B, T]`` bool, True on valid keys (None: all valid).
            position_bias: ``[H, T, T]`` additive bias of all original heads (WavLM), gated
                here if configured.
            head_mask: ``[H]`` or ``[B, H]`` multiplier of each kept head's output.
            prefix_kv: extra ``(keys, values)`` of shape ``[B, H, P, head_dim]``, always
                attendable, prepended to the projected keys/values.
        """
        batch, length, dim = x.shape
        if self.num_heads == 0:  # every head pruned: the output projection's bias
            return self.out_proj(x.new_zeros(batch, length, 0))
        v = self._heads(self.v_proj(x))
        attending = [i for i, same in enumerate(self.identity) if not same]
        if not attending:
            out = v
        elif len(attending) < self.num_heads:
            out = v.clone()  # identity heads keep their values
            out[:, attending] = self._attend(x, v, attending, key_mask, position_bias, prefix_kv)
        else:
            out = self._attend(x, v, None, key_mask, position_bias, prefix_kv)
        if head_mask is not None:
            out = out * head_mask.to(out.dtype).view(-1 if head_mask.dim() == 2 else 1, self.num_heads, 1, 1)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))

    def _attend(self, x, v, which, key_mask, position_bias, prefix_kv) -> torch.Tensor:
        """``softmax(q k^T / sqrt(d) + bias) v`` of the heads ``which`` (None: all)."""
        q, k = self._heads(self.q_proj(x)), self._heads(self.k_proj(x))
        if which is not None:
            q, k, v = q[:, which], k[:, which], v[:, which]
        num_prefix = 0
        if prefix_kv is not None:
            pk, pv = prefix_kv
            if which is not None:
                pk, pv = pk[:, which], pv[:, which]
            num_prefix = pk.shape[2]
            k = torch.cat([pk.to(k.dtype), k], dim=2)
            v = torch.cat([pv.to(v.dtype), v], dim=2)
            if key_mask is not None:
                key_mask = F.pad(key_mask, (num_prefix, 0), value=True)
        attn_mask = None
        if position_bias is not None:
            bias = self._bias(x, position_bias.to(q.dtype))
            if which is not None:
                bias = bias[:, which]
            if num_prefix:
                bias = F.pad(bias, (num_prefix, 0))
            if key_mask is not None:
                bias = bias.masked_fill(~key_mask[:, None, None, :], float("-inf"))
            attn_mask = bias
        elif key_mask is not None:
            attn_mask = key_mask[:, None, None, :]
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )

    def _bias(self, x: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        """``[1 or B, kept heads, T, T]``: the position bias of the kept heads, gated."""
        bias = position_bias[None]
        if self.rel_pos_gate is not None:
            bias = self.rel_pos_gate(x, self.total_heads) * bias
        return bias if self.all_heads else bias[:, self.heads]

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, key_mask: torch.Tensor | None = None,
                      position_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Attention probabilities ``[B, H, T, T]`` of every kept head (identity heads: the
        identity matrix), for analysis (`ssltk.compress.heads.diagonality`)."""
        q, k = self._heads(self.q_proj(x)), self._heads(self.k_proj(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if position_bias is not None:
            scores = scores + self._bias(x, position_bias.to(q.dtype))
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        probs = scores.softmax(-1)
        eye = torch.eye(x.shape[1], dtype=probs.dtype, device=probs.device)
        identity = torch.tensor(self.identity, device=probs.device)
        return torch.where(identity[None, :, None, None], eye, probs)

    def macs(self, frames: int) -> int:
        inner = self.num_heads * self.head_dim
        attending = self.identity.count(False) * self.head_dim
        total = 4 * frames * (self.out_proj.out_features if self.num_heads else 0) * inner
        total += 2 * frames * frames * attending
        if self.rel_pos_gate is not None:  # computed for every original head
            total += frames * self.total_heads * self.head_dim * 8
        return total


class FeedForward(nn.Module):
    """``fc2(dropout(act(fc1(x))))`` followed by dropout."""

    def __init__(self, dim: int, ffn_dim: int, activation: str, activation_dropout: float, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.activation = _ACTIVATIONS[activation]()
        self.activation_dropout = nn.Dropout(activation_dropout)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.activation_dropout(self.activation(self.fc1(x)))))

    def macs(self, frames: int) -> int:
        return 2 * frames * self.fc1.in_features * self.fc1.out_features


class TransformerLayer(nn.Module):
    """One encoder layer, post-LN or pre-LN, with adapter slots after each sublayer."""

    def __init__(self, cfg: EncoderConfig, index: int = 0):
        super().__init__()
        dim = cfg.hidden_size
        self.layer_norm_first = cfg.layer_norm_first
        self.attention = SelfAttention(
            dim, cfg.num_heads, cfg.attention_dropout, cfg.relative_position_bias and cfg.gated_relative_position,
            heads=cfg.kept_heads.get(index), identity=cfg.identity_heads.get(index, ()),
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.attn_norm = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.attn_adapter: nn.Module = nn.Identity()
        self.ffn = FeedForward(dim, cfg.ffn_sizes.get(index, cfg.ffn_size), cfg.activation,
                               cfg.activation_dropout, cfg.dropout)
        self.ffn_norm = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.ffn_adapter: nn.Module = nn.Identity()
        self.prefix: nn.Module | None = None

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        position_bias: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        prefix_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if prefix_kv is None and self.prefix is not None:
            prefix_kv = self.prefix(x.shape[0])
        if self.layer_norm_first:
            attn = self.attention(self.attn_norm(x), key_mask, position_bias, head_mask, prefix_kv)
            x = x + self.attn_adapter(self.dropout(attn))
            return x + self.ffn_adapter(self.ffn(self.ffn_norm(x)))
        attn = self.attention(x, key_mask, position_bias, head_mask, prefix_kv)
        x = self.attn_norm(x + self.attn_adapter(self.dropout(attn)))
        return self.ffn_norm(x + self.ffn_adapter(self.ffn(x)))

    def macs(self, frames: int) -> int:
        return self.attention.macs(frames) + self.ffn.macs(frames)


class KeepSequence(nn.Module):
    """Default ``between_layers`` slot: returns ``(x, lens)`` unchanged."""

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, lens

    def output_lengths(self, lens: torch.Tensor) -> torch.Tensor:
        return lens


class TransformerEncoder(nn.Module):
    """Positional conv + transformer layers; returns every layer's output itself."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        dim = cfg.hidden_size
        self.layer_norm_first = cfg.layer_norm_first
        self.layerdrop = cfg.layerdrop
        self.pos_conv = ConvPositionalEmbedding(dim, cfg.pos_conv_kernel, cfg.pos_conv_groups)
        self.norm = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.rel_pos_bias = (
            RelativePositionBias(cfg.num_buckets, cfg.max_distance, cfg.num_heads)
            if cfg.relative_position_bias
            else None
        )
        self.layers = nn.ModuleList(TransformerLayer(cfg, i) for i in range(cfg.num_layers))
        self.between_layers = nn.ModuleList(
            build_subsampler(cfg.subsample[i], dim) if i in cfg.subsample else KeepSequence()
            for i in range(cfg.num_layers))
        self.prompt: nn.Module | None = None

    def forward(
        self,
        x: torch.Tensor,
        lens: torch.Tensor,
        skip_layers: Collection[int] | None = None,
        head_masks: Sequence[torch.Tensor | None] | None = None,
        prefix_kv: Sequence[tuple[torch.Tensor, torch.Tensor] | None] | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Encode ``x[B, T, D]`` with valid lengths ``lens[B]``.

        Args:
            skip_layers: indices of layers to bypass (their output equals their input);
                layerdrop in training bypasses layers the same way, so the number of
                returned hidden states never changes.
            head_masks: per layer, ``None`` or a head mask for :class:`SelfAttention`.
            prefix_kv: per layer, ``None`` or ``(keys, values)`` for :class:`SelfAttention`.

        Returns:
            ``(hidden_states, lens)``: ``num_layers + 1`` tensors (input of layer 0, the
            output of each layer, the last with the final LayerNorm in pre-LN models) and
            the lengths after any ``between_layers`` module.
        """
        skip = set(skip_layers or ())
        key_mask = None if bool((lens == x.shape[1]).all()) else valid_mask(lens.clamp(min=1), x.shape[1])
        if key_mask is not None:
            x = x.masked_fill(~key_mask[..., None], 0.0)
        x = x + self.pos_conv(x)
        if not self.layer_norm_first:
            x = self.norm(x)
        x = self.dropout(x)
        num_prompts = 0
        if self.prompt is not None:
            if any(not isinstance(b, KeepSequence) for b in self.between_layers):
                raise ValueError("an input prompt cannot be combined with between_layers modules")
            prompts = self.prompt(x.shape[0]).to(x.dtype)
            num_prompts = prompts.shape[1]
            x = torch.cat([prompts, x], dim=1)
            if key_mask is not None:
                key_mask = F.pad(key_mask, (num_prompts, 0), value=True)
        position_bias = self.rel_pos_bias(x.shape[1]) if self.rel_pos_bias is not None else None
        hidden_states = [x]
        for index, layer in enumerate(self.layers):
            dropped = self.training and self.layerdrop > 0 and float(torch.rand(())) < self.layerdrop
            if index not in skip and not dropped:
                x = layer(
                    x,
                    key_mask,
                    position_bias,
                    head_masks[index] if head_masks is not None else None,
                    prefix_kv[index] if prefix_kv is not None else None,
                )
            between = self.between_layers[index]
            if not isinstance(between, KeepSequence):
                x, lens = between(x, lens)
                key_mask = None if bool((lens == x.shape[1]).all()) else valid_mask(lens.clamp(min=1), x.shape[1])
                if position_bias is not None and position_bias.shape[-1] != x.shape[1]:
                    position_bias = self.rel_pos_bias(x.shape[1])
            hidden_states.append(x)
        if self.layer_norm_first:
            hidden_states[-1] = self.norm(hidden_states[-1])
        if num_prompts:
            hidden_states = [h[:, num_prompts:] for h in hidden_states]
        return hidden_states, lens

    def output_lengths(self, lens: torch.Tensor) -> torch.Tensor:
        """Frames after every ``between_layers`` module (each must know its output lengths)."""
        for between in self.between_layers:
            lens = between.output_lengths(lens)
        return lens

    def macs(self, frames: int) -> int:
        """Positional conv, projections, attention products and FFN (norms not counted), each
        layer at the frame count it sees."""
        total = self.pos_conv.macs(frames)
        for layer, between in zip(self.layers, self.between_layers):
            total += layer.macs(frames)
            frames = int(between.output_lengths(torch.tensor([frames]))[0])
        return total
