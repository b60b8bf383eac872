"""What the trainer expects of a model.

A trainable model is an ``nn.Module``; subclassing `TrainableModel` is optional (the
trainer duck-types) but documents the contract and supplies the defaults:

``forward(batch) -> (loss, stats)``
    Training loss (a scalar tensor) and a dict of named scalars (floats or
    0-dim tensors) to log; they are averaged over batches as ``train/<name>``.

``validation_step(batch) -> dict[str, float | Tensor]``
    Summable counts for one batch (e.g. ``{"correct": 7, "count": 8}``).  The
    trainer runs it in eval mode without gradients, sums the counts over all
    batches and all DDP ranks, then calls

``validation_metrics(totals) -> dict[str, float]``
    Metrics from the summed counts, logged as ``valid/<name>``.  The defaults
    record ``forward``'s loss and stats and average them over batches.

``param_groups() -> dict[str, iterable of Parameter]`` (optional)
    For models trained with several optimisers (a GAN's generator and
    discriminator).  Each named group gets its own optimiser
    (``trainer.group_optim.<name>``, else ``trainer.optim``) and the trainer
    cycles through the groups in the declared order, one group per update,
    calling ``forward(batch, group=<name>)``: the model returns the loss of
    that group.  Only that group's parameters change in that update.
    Without it, one optimiser trains every parameter with ``requires_grad``.

``set_step(step)`` (optional)
    Called before each update with the global update count, for schedules
    inside the model (temperature annealing, loss weights).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

Stats = dict[str, "float | torch.Tensor"]


class TrainableModel(nn.Module):
    """Base class with the default validation (mean of ``forward``'s loss and stats)."""

    def forward(self, batch: Any) -> tuple[torch.Tensor, Stats]:  # pragma: no cover - abstract
        raise NotImplementedError

    def validation_step(self, batch: Any) -> Stats:
        return default_validation_step(self, batch)

    def validation_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        return default_validation_metrics(totals)

    def param_groups(self) -> dict[str, Iterable[nn.Parameter]] | None:
        """Named parameter groups with one optimiser each; None: a single optimiser."""
        return None


def default_validation_step(model: nn.Module, batch: Any) -> Stats:
    loss, stats = model(batch)
    return {"loss": loss, **stats, "batches": 1}


def default_validation_metrics(totals: dict[str, float]) -> dict[str, float]:
    batches = totals.get("batches", 0)
    return {k: v / batches for k, v in totals.items() if k != "batches"} if batches else {}


def freeze_child(owner: nn.Module, name: str, keep_trainable: bool = False) -> None:
    """Freeze ``owner.<name>`` (eval mode, no gradients) and keep it out of ``owner``'s
    ``state_dict``: checkpoints hold only what trains, and loading one fills the frozen
    child's entries from the child itself (a strict load still passes).  ``owner.train()``
    must keep the child in eval mode (override it).

    ``keep_trainable``: the child's parameters that already have ``requires_grad`` (modules
    added to a frozen upstream, `ssltk.peft`) keep it and stay in the ``state_dict``.
    """
    child = getattr(owner, name).eval()
    kept = {n for n, p in child.named_parameters() if p.requires_grad} if keep_trainable else set()
    for n, p in child.named_parameters():
        p.requires_grad_(n in kept)
    key = name + "."

    def drop(module, state, prefix, local_metadata):
        for k in [k for k in state if k.startswith(prefix + key) and k[len(prefix + key):] not in kept]:
            del state[k]

    def fill(module, state, prefix, *args):
        for k, value in getattr(module, name).state_dict().items():
            if k not in kept:
                state.setdefault(prefix + key + k, value)

    owner.register_state_dict_post_hook(drop)
    owner.register_load_state_dict_pre_hook(fill)
