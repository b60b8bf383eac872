"""Upstream hub: ``load("hubert_base" | path) -> Upstream``.

Every upstream is an ``nn.Module`` with
``forward(wavs: FloatTensor[B, T], wav_lens: LongTensor[B]) -> (hidden_states, lens)``:
``hidden_states`` is a list of ``num_layers + 1`` tensors ``[B, T', D]`` (entry 0 is the
input of the first transformer layer, the last entry the encoder output, after the final
LayerNorm in pre-LN models) and ``lens[B]`` counts each utterance's valid frames, exactly
as many as the utterance yields on its own. Attributes: ``num_layers``, ``hidden_size``,
``downsample_rate`` (input samples per output frame, e.g. 320) and ``sample_rate``.

Sample rate: the upstream takes no rate argument. Callers (the data loader) resample
audio to ``upstream.sample_rate`` (16 kHz for every model here) before ``forward``.

Names and paths: an architecture name (see :func:`list_upstreams`) builds a *randomly
initialised* model of that architecture (seeded from the name, so loads agree; pass
``seed=`` for another draw; :func:`is_random_init` tells); nothing is downloaded.
``ssltk_mini`` and ``ssltk_mini_student`` load ssltk's own pre-trained weights, shipped
in the package. Other pre-trained weights come from a path: a fairseq ``.pt``, a Hugging Face directory (``config.json`` + weights), an
s3prl converted ``.pt`` or an ssltk checkpoint. An existing path always wins over a
registry name of the same spelling. Returned models are in eval mode.

A trained UASR experiment (``ssltk.bin.uasr_train``'s directory, or a weights file in it)
loads as an upstream whose one hidden state is the generator's phone posteriorgram on the
features it was trained on (see `ssltk.uasr.upstream`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ssltk.errors import UserError
from ssltk.upstream.base import Upstream
from ssltk.upstream.checkpoint import CheckpointNotFoundError, apply_overrides, load_upstream
from ssltk.upstream.registry import REGISTRY

__all__ = ["UnknownUpstreamError", "Upstream", "describe", "is_random_init", "list_upstreams", "load"]


class UnknownUpstreamError(UserError):
    """Neither an existing path nor a registry name; the message suggests close names."""


def list_upstreams() -> list[str]:
    """Sorted registry names."""
    return sorted(REGISTRY)


def describe(name: str) -> str:
    """One-line description of a registry name."""
    return _entry(name).description


def is_random_init(name: str) -> bool:
    """Whether ``name`` is a registry name that builds a randomly initialised model (an
    existing path of that spelling wins in :func:`load`, so it is not)."""
    return name in REGISTRY and REGISTRY[name].weights == "random" and not Path(name).exists()


def _entry(name: str):
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "."
        raise UnknownUpstreamError(
            f"unknown upstream {name!r}: neither an existing path nor a registry name{hint} "
            f"Known names: {', '.join(list_upstreams())}"
        )
    return REGISTRY[name]


def load(name_or_path: str | Path, **overrides: Any) -> Upstream:
    """Load an upstream by path or registry name (see the module docstring).

    ``overrides`` change config fields, e.g. ``load("hubert_base", layerdrop=0.0)`` or
    ``load("mfcc", deltas=True)``; for checkpoints only fields that do not change the
    parameter shapes make sense (dropouts, ``layerdrop``, ``normalize_waveform``).
    """
    path = Path(name_or_path)
    if path.exists():
        from ssltk.uasr.upstream import experiment_of, load_uasr_upstream

        if experiment_of(path) is not None:
            if overrides:
                raise UserError(f"overrides {sorted(overrides)} are not supported for a UASR "
                                f"experiment ({path})")
            return load_uasr_upstream(path)
        return apply_overrides(load_upstream(path), overrides).eval()
    name = str(name_or_path)
    if name.endswith((".pt", ".pth", ".bin", ".ckpt")) or "/" in name:
        raise CheckpointNotFoundError(f"upstream checkpoint not found: {name}")
    return _entry(name).build(**overrides)
