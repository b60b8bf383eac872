"""Precomputed batches, reshuffled every epoch and sharded by rank."""

from __future__ import annotations

import os
import random
from typing import Any, Iterator, Sequence


class EpochBatchSampler:
    """Yields precomputed batches in an order fixed by ``seed + epoch``.

    ``batches`` may hold lists of ids (use it as a DataLoader ``batch_sampler``)
    or ready-made batches (iterate it directly).  The trainer calls
    `set_epoch` before each epoch.  Under DDP, rank ``r`` of ``world_size``
    takes every ``world_size``-th batch of the shuffled order; with
    ``pad=True`` (training) the order is first extended by repeating its
    head so that every rank gets the same number of batches (unequal counts
    would deadlock the gradient all-reduce); use ``pad=False`` for
    validation, where metrics are summed counts and nothing may repeat.
    ``rank`` / ``world_size`` default to torchrun's ``RANK`` / ``WORLD_SIZE``.
    """

    def __init__(self, batches: Sequence[Any], shuffle: bool = True, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None, pad: bool = True):
        self.batches = list(batches)
        self.shuffle = shuffle
        self.seed = seed
        self.world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else world_size
        self.rank = int(os.environ.get("RANK", 0)) if rank is None else rank
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} out of range for world_size {self.world_size}")
        self.pad = pad
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        order = list(range(len(self.batches)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        if self.pad and self.world_size > 1 and order:
            extra = -len(order) % self.world_size
            order += (order * (extra // len(order) + 1))[:extra]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[Any]:
        for i in self._order():
            yield self.batches[i]

    def __len__(self) -> int:
        n = len(self.batches)
        if self.pad and self.world_size > 1 and n:
            n += -n % self.world_size
        return len(range(self.rank, n, self.world_size))
