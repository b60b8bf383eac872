"""Faster inference of an upstream: the precision it computes in.

``float32`` (default); ``float16`` (CUDA autocast); ``bfloat16`` (autocast on CPUs with
bf16 instructions, and on CUDA); ``int8``: dynamic quantisation of every ``nn.Linear``
(weights stored in int8, activations quantised per batch; CPU, fbgemm/x86).  Used by
feature extraction (``extract_feats --precision``); the dump records the precision.
"""

from __future__ import annotations

import contextlib
import warnings

import torch
from torch import nn

from ssltk.errors import UserError

PRECISIONS = ("float32", "float16", "bfloat16", "int8")
_AUTOCAST = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def check_precision(precision: str, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "float16" and device.type != "cuda":
        raise UserError("precision float16 needs a CUDA device; on CPU use bfloat16 or int8")
    if precision == "int8" and device.type != "cpu":
        raise UserError("precision int8 (dynamic quantisation) runs on CPU: use --device cpu")


def for_inference(model: nn.Module, precision: str, device: torch.device) -> nn.Module:
    """``model`` ready to run in ``precision`` on ``device`` (int8: a quantised copy)."""
    check_precision(precision, device)
    if precision != "int8":
        return model
    with warnings.catch_warnings():  # torch.ao.quantization announces its successor, torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)


def autocast(precision: str, device: torch.device):
    """The autocast context of ``precision`` (a no-op for float32 and int8)."""
    if precision not in _AUTOCAST:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_AUTOCAST[precision])
