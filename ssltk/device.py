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
