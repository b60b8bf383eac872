"""Checkpoint errors, and renaming a foreign state dict onto ssltk's parameters."""

from __future__ import annotations

import torch

from ssltk.errors import UserError
from ssltk.upstream.config import EncoderConfig
from ssltk.upstream.key_maps import HF_HEAD_NAMES, KEPT_HEADS, is_ignored, key_table
from ssltk.upstream.ssl_model import SSLUpstream


class CheckpointError(UserError):
    """A checkpoint that cannot be read; the message names the file and the cause."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint path that does not exist."""


class KeyMismatchError(CheckpointError):
    """Parameter names in a checkpoint do not match the model built from its config."""

    def __init__(self, source: str, missing: list[str], unexpected: list[str]):
        self.missing, self.unexpected = missing, unexpected
        super().__init__(
            f"{source}: parameter names do not match the model built from its config.\n"
            f"  missing ({len(missing)}): {', '.join(missing) or '-'}\n"
            f"  unexpected ({len(unexpected)}): {', '.join(unexpected) or '-'}"
        )


def map_state(
    source: str,
    cfg: EncoderConfig,
    state: dict[str, torch.Tensor],
    column: str,
    ignored: tuple[str, ...],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Rename ``state`` by the explicit key table; return (ssltk state, kept heads)."""
    ours: dict[str, torch.Tensor] = {}
    consumed: set[str] = set()
    missing: list[str] = []
    for row in key_table(cfg):
        names = getattr(row, column)
        found = next((name for name in names if name in state), None)
        if found is None:
            missing.append(names[0])
            continue
        ours[row.ours] = state[found]
        consumed.add(found)
    unexpected = [k for k in state if k not in consumed and not is_ignored(k, ignored)]
    if missing or unexpected:
        raise KeyMismatchError(source, missing, unexpected)
    heads = {}
    for key, value in state.items():
        name = HF_HEAD_NAMES.get(key, key) if column == "hf" else key
        if name in KEPT_HEADS and isinstance(value, torch.Tensor):
            heads[name] = value
    return ours, heads


def meta_upstream(cfg: EncoderConfig) -> SSLUpstream:
    """An :class:`SSLUpstream` on the meta device: no memory and no random init, for a
    model whose weights all come from a state dict (:func:`assign_state`)."""
    with torch.device("meta"):
        return SSLUpstream(cfg)


def assign_state(model: SSLUpstream, state: dict[str, torch.Tensor]) -> SSLUpstream:
    """Make ``state``'s tensors the parameters of ``model`` (strict names and shapes, else
    ``RuntimeError``), so that loading never holds the weights twice. A tensor is copied
    only where ``load_state_dict`` copying would have converted it: to the parameter's
    dtype, or into a contiguous layout."""
    own = model.state_dict()
    state = {k: v.to(own[k].dtype).contiguous() if k in own else v for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model


def build_ssl_upstream(
    source: str, cfg: EncoderConfig, state: dict[str, torch.Tensor], heads: dict[str, torch.Tensor] | None = None
) -> SSLUpstream:
    """Build an :class:`SSLUpstream` from ``cfg`` and an ssltk-named state dict (strict).

    The state's tensors become the parameters (see :func:`assign_state`): pass tensors
    that nothing else will modify, e.g. those just read from a file."""
    model = meta_upstream(cfg)
    expected = set(model.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise KeyMismatchError(source, missing, unexpected)
    try:
        assign_state(model, state)
    except RuntimeError as err:
        raise CheckpointError(f"{source}: {err}") from err
    model.pretraining_heads = dict(heads or {})
    return model.eval()
