"""``torch.load`` for foreign checkpoints, and turning their configs into plain dicts.

fairseq checkpoints may pickle ``argparse.Namespace`` objects, fairseq enums and
dataclasses, or OmegaConf containers. They are read weights-only when possible; otherwise
with stand-ins for classes that are not installed, so fairseq is never imported.
"""

from __future__ import annotations

import argparse
import enum
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch


class _MissingGlobal:
    """Stand-in for a class the checkpoint refers to but that is not installed
    (fairseq's enums and dataclasses). Keeps constructor args and pickled state."""

    args: tuple = ()
    kwargs: dict = {}
    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any):
        self.args = args
        self.kwargs = kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _TolerantUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_MissingGlobal,), {"__module__": f"missing.{module}"})


class _TolerantPickle:
    """``pickle_module`` for ``torch.load`` that tolerates missing classes."""

    Unpickler = _TolerantUnpickler
    load = staticmethod(pickle.load)


def torch_load(path: Path) -> Any:
    """``torch.load`` on CPU: weights-only first (plus ``argparse.Namespace`` for old
    fairseq ``args``); only when that fails, a full unpickle that stands in for classes
    that are not installed (warns: only load checkpoints you trust)."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        warnings.warn(
            f"{path}: not loadable with weights_only=True ({str(err).splitlines()[0]}); "
            "unpickling it fully. Only load checkpoints you trust.",
            stacklevel=3,
        )
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TolerantPickle)


def plain(value: Any) -> Any:
    """Convert namespaces, stand-ins, enums and (OmegaConf-like) containers into plain
    python values."""
    if isinstance(value, argparse.Namespace):
        return {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, _MissingGlobal):
        if len(value.args) == 1 and not value.kwargs:  # an enum: Cls(value)
            return plain(value.args[0])
        state = value.state
        if isinstance(state, dict) and "_content" in state:  # a pickled OmegaConf node
            return plain(state["_content"])
        if isinstance(state, dict) and "_val" in state:
            return plain(state["_val"])
        return plain(state) if isinstance(state, dict) else {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value] if not isinstance(value, tuple) else tuple(plain(v) for v in value)
    return value


def describe_top_level(obj: Any) -> str:
    if isinstance(obj, dict):
        items = ", ".join(f"{k!r}: {type(v).__name__}" for k, v in list(obj.items())[:20])
        return f"a dict with top-level keys {{{items}}}"
    return f"an object of type {type(obj).__name__}"
