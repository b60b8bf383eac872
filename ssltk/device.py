"""Choosing the torch device: CUDA when present, CPU otherwise, or the one asked for."""

from __future__ import annotations

import torch

from ssltk.errors import UserError


def select_device(name: str | None, option: str = "--device") -> torch.device:
    """``None`` or ``"auto"``: ``cuda`` when available, else ``cpu``; otherwise the device
    ``name`` (e.g. ``cpu``, ``cuda:1``), checked.  ``option`` names the setting in errors."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"{option}: unknown device '{name}'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{option} is '{name}' but CUDA is not available on this machine")
    return device


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak for `peak_memory_mb` (CUDA; the CPU peak cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: on CUDA the tensors allocated on ``device`` since the last
    `reset_peak_memory`; on CPU the process's peak resident set size (everything the
    process holds, since it started)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:  # VmHWM: this process's own peak (ru_maxrss may carry a parent's peak over an exec)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
