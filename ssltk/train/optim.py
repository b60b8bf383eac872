"""Optimisers and learning-rate schedules built from the trainer config.

Schedules are pure functions of the update step, so a checkpoint only needs
the step to restore them.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from ssltk.train.config import OptimConfig, SchedulerConfig


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser named by ``cfg`` over ``params``."""
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                 weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimiser {cfg.name!r}")


def lr_factor(cfg: SchedulerConfig, step: int, total_steps: int | None) -> float:
    """Multiplier of the base learning rate for update ``step`` (0-based).

    ``total_steps`` (the number of updates of the whole run) is needed only by
    the decaying schedules.
    """
    warmup = cfg.warmup_steps
    if cfg.name == "none":
        return 1.0
    if cfg.name == "inverse_sqrt":
        n = step + 1
        return min(n / warmup, math.sqrt(warmup / n))
    if step < warmup:
        return (step + 1) / warmup
    if cfg.name == "linear_warmup":
        return 1.0
    if total_steps is None:
        raise ValueError(f"scheduler {cfg.name} needs the total number of updates")
    span = max(total_steps - warmup, 1)
    progress = min((step - warmup) / span, 1.0)
    if cfg.name == "warmup_linear_decay":
        decay = 1.0 - progress
    elif cfg.name == "warmup_cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown scheduler {cfg.name!r}")
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * decay
