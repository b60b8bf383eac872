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
    build_ssl_upstream,
)

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "KeyMismatchError",
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
    return build_ssl_upstream(source, cfg, ckpt["state_dict"], ckpt.get("pretraining_heads"))


def save_ssltk(upstream: Upstream, path: str | Path) -> Path:
    """Write ``upstream`` in ssltk's own format (plain dicts and tensors only)."""
    path = Path(path)
    if isinstance(upstream, SSLUpstream):
        payload = {
            "kind": "ssl",
            "config": upstream.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in upstream.state_dict().items()},
            "pretraining_heads": {k: v.detach().cpu() for k, v in upstream.pretraining_heads.items()},
        }
    elif isinstance(upstream, KaldiFeatureUpstream):
        payload = {"kind": "kaldi_features", "config": upstream.config.to_dict()}
    else:
        raise TypeError(f"cannot save upstream of type {type(upstream).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": SSLTK_FORMAT, "version": SSLTK_FORMAT_VERSION, **payload}, path)
    return path


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
