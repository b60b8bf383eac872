"""Prompt tuning on the input sequence, as SpeechPrompt does for speech (Chang et al.,
"SpeechPrompt: An Exploration of Prompt Tuning on Generative Spoken Language Model for
Speech Processing Tasks", Interspeech 2022)."""

from __future__ import annotations

import torch
from torch import nn

from ssltk.peft.config import PromptConfig


class InputPrompt(nn.Module):
    """``length`` learned vectors; ``forward(batch)`` returns ``[batch, length, dim]``."""

    def __init__(self, dim: int, length: int):
        super().__init__()
        self.vectors = nn.Parameter(torch.randn(length, dim) * 0.02)

    def forward(self, batch: int) -> torch.Tensor:
        return self.vectors.expand(batch, -1, -1)


def apply(encoder: nn.Module, cfg: PromptConfig) -> None:
    encoder.prompt = InputPrompt(encoder.norm.normalized_shape[0], cfg.length)
