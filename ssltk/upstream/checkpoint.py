"""Read and write upstream checkpoints without importing fairseq, s3prl or transformers.

Readers (layout detected from the file): fairseq ``.pt`` (``cfg`` dict with a ``model``
sub-dict, the flat ``cfg`` of official WavLM checkpoints, or the older ``args``
namespace; fine-tuned ``w2v_encoder.w2v_model.*`` checkpoints too), Hugging Face
directories (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded or
not), s3prl "converted" dicts (``task_cfg``, ``model_cfg``, ``model_weight``) and ssltk's
own format. Writers: ssltk's own format (:func:`save_ssltk`) and s3prl's converted
HuBERT layout (:func:`save_s3prl_hubert`). Parameter names are mapped by the explicit
tables in :mod:`ssltk.upstream.key_maps`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ssltk.errors import UserError
from ssltk.upstream.base import Upstream
from ssltk.upstream.config import EncoderConfig
from ssltk.upstream.fairseq_layout import read_fairseq, read_s3prl_converted, save_s3prl_hubert
from ssltk.upstream.hf_layout import read_hf_directory
from ssltk.upstream.kaldi_features import KaldiFeatureConfig, KaldiFeatureUpstream
from ssltk.upstream.pickle_compat import describe_top_level, torch_load
from ssltk.upstream.ssl_model import SSLUpstream
from ssltk.upstream.state_mapping import (
    CheckpointError,
    CheckpointNotFoundError,
    KeyMismatchError,
    assign_state,
    build_ssl_upstream,
    meta_upstream,
)

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "KeyMismatchError",
    "apply_overrides",
    "detect_layout",
    "load_upstream",
    "save_s3prl_hubert",
    "save_ssltk",
]

logger = logging.getLogger(__name__)

SSLTK_FORMAT = "ssltk.upstream"
SSLTK_FORMAT_VERSION = 1


def read_ssltk(ckpt: dict[str, Any], source: str) -> Upstream:
    version = ckpt.get("version")
    if version != SSLTK_FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: ssltk format version {version!r} is not supported (expected {SSLTK_FORMAT_VERSION})"
        )
    kind = ckpt.get("kind")
    if kind == "kaldi_features":
        return KaldiFeatureUpstream(KaldiFeatureConfig(**ckpt["config"]))
    if kind != "ssl":
        raise CheckpointError(f"{source}: unknown ssltk upstream kind {kind!r}")
    cfg = EncoderConfig.from_dict(ckpt["config"])
    # weights stored in half precision (save_ssltk(dtype=torch.float16)) compute in float32
    state, heads = (_to_float32(ckpt.get(key) or {}) for key in ("state_dict", "pretraining_heads"))
    return build_ssl_upstream(source, cfg, state, heads)


def _to_float32(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def save_ssltk(upstream: Upstream, path: str | Path, dtype: torch.dtype | None = None,
               pretraining_heads: bool = True) -> Path:
    """Write ``upstream`` in ssltk's own format (plain dicts and tensors only).

    ``dtype`` (e.g. ``torch.float16``) stores the floating-point weights in that precision
    (loading turns them back into float32); ``pretraining_heads=False`` leaves out the
    heads that only continued pre-training needs.
    """
    path = Path(path)

    def stored(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().to(dtype) if dtype is not None and v.is_floating_point()
                else v.detach().cpu() for k, v in tensors.items()}

    if isinstance(upstream, SSLUpstream):
        payload = {
            "kind": "ssl",
            "config": upstream.config.to_dict(),
            "state_dict": stored(upstream.state_dict()),
            "pretraining_heads": stored(upstream.pretraining_heads) if pretraining_heads else {},
        }
    elif isinstance(upstream, KaldiFeatureUpstream):
        payload = {"kind": "kaldi_features", "config": upstream.config.to_dict()}
    else:
        raise TypeError(f"cannot save upstream of type {type(upstream).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": SSLTK_FORMAT, "version": SSLTK_FORMAT_VERSION, **payload}, path)
    return path


def apply_overrides(upstream: Upstream, overrides: dict[str, Any]) -> Upstream:
    """``upstream`` with config ``overrides`` that keep its parameter shapes (dropouts,
    ``layerdrop``...); the weights are shared, not copied."""
    if not overrides:
        return upstream
    if not isinstance(upstream, SSLUpstream):
        raise UserError(f"overrides {sorted(overrides)} are not supported for {type(upstream).__name__} checkpoints")
    rebuilt = meta_upstream(upstream.config.replace(**overrides))
    try:
        assign_state(rebuilt, upstream.state_dict())
    except RuntimeError as err:
        raise UserError(f"overrides {overrides} change the model's parameters: {err}") from err
    rebuilt.pretraining_heads = upstream.pretraining_heads
    return rebuilt


def detect_layout(obj: Any) -> str:
    """Name the layout of a loaded checkpoint object: ssltk, s3prl_converted or fairseq."""
    if isinstance(obj, dict):
        if obj.get("format") == SSLTK_FORMAT:
            return "ssltk"
        if {"task_cfg", "model_cfg", "model_weight"} <= set(obj):
            return "s3prl_converted"
        if "model" in obj and isinstance(obj["model"], dict) and (obj.get("cfg") is not None or "args" in obj):
            return "fairseq"
    return "unknown"


def load_upstream(path: str | Path) -> Upstream:
    """Load an upstream from a checkpoint file or a Hugging Face directory."""
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return read_hf_directory(path)
        found = sorted(p.name for p in path.iterdir())[:20]
        raise CheckpointError(
            f"{path}: a directory without config.json is not a known checkpoint layout (found {found})"
        )
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint not found: {path}")
    obj = torch_load(path)
    layout = detect_layout(obj)
    logger.info("loading %s checkpoint %s", layout, path)
    if layout == "ssltk":
        return read_ssltk(obj, str(path))
    if layout == "s3prl_converted":
        return read_s3prl_converted(obj, str(path))
    if layout == "fairseq":
        return read_fairseq(obj, str(path))
    raise CheckpointError(
        f"{path}: unknown checkpoint layout: found {describe_top_level(obj)}; expected ssltk "
        "('format'), s3prl converted ('task_cfg', 'model_cfg', 'model_weight'), fairseq "
        "('cfg' or 'args' with 'model'), or a Hugging Face directory"
    )
