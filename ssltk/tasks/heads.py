"""SUPERB-style heads on ``[B, T, D]`` features with valid lengths ``[B]``.

Padded frames never change a valid output: pooling is masked and the BLSTM
runs on packed sequences, so batched and one-by-one results agree.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ssltk.upstream.base import valid_mask


def _projector(input_dim: int, proj_dim: int) -> tuple[nn.Module, int]:
    if proj_dim:
        return nn.Linear(input_dim, proj_dim), proj_dim
    return nn.Identity(), input_dim


class FrameStack(nn.Module):
    """Concatenate each ``k`` consecutive frames: ``[B, T, D] -> [B, ceil(T / k), k * D]``.

    Lowers the frame rate (and the cost of a BLSTM) ``k`` times; the last frames of
    an utterance are padded with zeros.  ``k = 1`` changes nothing.
    """

    def __init__(self, k: int = 1):
        super().__init__()
        if k < 1:
            raise ValueError(f"stack_frames must be >= 1, got {k}")
        self.k = k

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k == 1:
            return x, lens
        x = x * valid_mask(lens, x.shape[1]).to(x.dtype)[..., None]  # padding may hold anything
        pad = -x.shape[1] % self.k
        x = nn.functional.pad(x, (0, 0, 0, pad))
        b, t, d = x.shape
        return x.reshape(b, t // self.k, self.k * d), torch.div(lens + self.k - 1, self.k,
                                                                 rounding_mode="floor")


def stack_count(cfg, frame_rate: float | None) -> int:
    """Frames to stack for a head config (``stack_frames``, or ``stack_ms`` at ``frame_rate``
    frames per second: the nearest whole number of frames, at least one)."""
    if not cfg.stack_ms:
        return cfg.stack_frames
    if not frame_rate:
        raise ValueError("stack_ms needs the frontend's frame rate")
    return max(1, int(cfg.stack_ms * frame_rate / 1000 + 0.5))


class MeanPooling(nn.Module):
    """Mean over valid frames (a zero vector for an utterance with none)."""

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lens, x.shape[1]).to(x.dtype)[..., None]
        return (x * mask).sum(1) / lens.clamp(min=1).to(x.dtype)[:, None]


class AttentivePooling(nn.Module):
    """Self-attentive pooling: weights ``softmax_t(v . tanh(W x_t))`` over valid frames."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        scores = self.score(torch.tanh(self.proj(x))).squeeze(-1)
        mask = valid_mask(lens, x.shape[1])
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # all-padding rows: zeros
        return torch.einsum("bt,btd->bd", weights, x)


class BLSTM(nn.Module):
    """Bidirectional LSTM layers on packed sequences, then dropout: ``[B, T, 2 * hidden]``."""

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.rnn = nn.LSTM(input_dim, hidden_size, num_layers=num_layers, bidirectional=True,
                           batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.output_size = 2 * hidden_size

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lens.clamp(min=1).cpu(), batch_first=True,
                                      enforce_sorted=False)
        y, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])
        return self.dropout(y)


class UtteranceHead(nn.Module):
    """Frame stacking -> projector -> optional BLSTM encoder -> pooling -> linear: one
    logit vector per utterance (SUPERB's UtteranceLevel has no encoder; a BLSTM lets weak
    frame features such as FBANK model word order, which intents need).

    `encode` gives the frames before pooling (``frame_size`` wide), `classify` pools them.
    """

    def __init__(self, input_dim: int, num_classes: int, proj_dim: int = 256,
                 pooling: str = "mean", dropout: float = 0.0, encoder_layers: int = 0,
                 encoder_size: int = 256, stack_frames: int = 1):
        super().__init__()
        self.stack = FrameStack(stack_frames)
        self.projector, dim = _projector(input_dim * stack_frames, proj_dim)
        self.encoder = BLSTM(dim, encoder_size, encoder_layers, dropout) if encoder_layers else None
        if self.encoder is not None:
            dim = self.encoder.output_size
        self.frame_size = dim
        self.pooling = AttentivePooling(dim) if pooling == "attentive" else MeanPooling()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(dim, num_classes)

    def encode(self, feats: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, lens = self.stack(feats, lens)
        x = self.projector(x)
        if self.encoder is not None:
            x = self.encoder(x, lens)
        return x, lens

    def classify(self, frames: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.pooling(frames, lens)))

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.classify(*self.encode(feats, lens))


class CTCHead(nn.Module):
    """Frame stacking -> projector -> BLSTM layers (``kind="blstm"``) or nothing
    (``"linear"``) -> linear.

    Returns frame logits ``[B, T', vocab_size]`` and frame counts ``[B]`` (``T' = T``
    without stacking).  SUPERB's ASR head: projector 1024, 2 BLSTM layers of 1024 units
    per direction, dropout 0.2; its phone-recognition head: projector 256, linear.
    """

    def __init__(self, input_dim: int, vocab_size: int, kind: str = "blstm", proj_dim: int = 1024,
                 hidden_size: int = 1024, num_layers: int = 2, dropout: float = 0.2,
                 stack_frames: int = 1):
        super().__init__()
        self.stack = FrameStack(stack_frames)
        self.projector, dim = _projector(input_dim * stack_frames, proj_dim)
        self.rnn = None
        if kind == "blstm":
            self.rnn = BLSTM(dim, hidden_size, num_layers, dropout)
            dim = self.rnn.output_size
        elif kind != "linear":
            raise ValueError(f"unknown CTC head {kind!r}")
        self.output = nn.Linear(dim, vocab_size)

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, lens = self.stack(feats, lens)
        x = self.projector(x)
        if self.rnn is not None:
            x = self.rnn(x, lens)
        return self.output(x), lens
