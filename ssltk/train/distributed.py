"""Process-group set-up and collectives for DDP runs started by torchrun.

A single process (``WORLD_SIZE`` unset or 1) needs none of this: every helper
is then a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """Rank and world size of this process, from torchrun's environment."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    return DistInfo(rank, world, int(os.environ.get("LOCAL_RANK", rank)))


def init_distributed(use_cuda: bool) -> tuple[DistInfo, bool]:
    """Join the process group when ``WORLD_SIZE > 1`` (nccl on GPU, gloo on CPU).

    Returns the rank info and whether this call created the group (and so
    should destroy it).
    """
    info = dist_info()
    if not info.enabled or dist.is_initialized():
        return info, False
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return dist_info(), True


def all_reduce_max(flag: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over ranks (in place)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag


def sum_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Key-wise sums of per-rank dicts (keys may differ between ranks)."""
    if not (dist.is_available() and dist.is_initialized()):
        return dict(values)
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, dict(values))
    total: dict[str, float] = {}
    for part in gathered:
        for key, value in part.items():
            total[key] = total.get(key, 0.0) + value
    return total


def gather_objects(obj):
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` without DDP)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
