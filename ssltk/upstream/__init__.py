"""Upstream model families and checkpoint I/O (see :mod:`ssltk.hub` for the entry point)."""

from ssltk.upstream.base import Upstream
from ssltk.upstream.checkpoint import (
    CheckpointError,
    KeyMismatchError,
    load_upstream,
    save_s3prl_hubert,
    save_ssltk,
)
from ssltk.upstream.config import EncoderConfig
from ssltk.upstream.kaldi_features import KaldiFeatureConfig, KaldiFeatureUpstream
from ssltk.upstream.ssl_model import SSLUpstream

__all__ = [
    "CheckpointError",
    "EncoderConfig",
    "KaldiFeatureConfig",
    "KaldiFeatureUpstream",
    "KeyMismatchError",
    "SSLUpstream",
    "Upstream",
    "load_upstream",
    "save_s3prl_hubert",
    "save_ssltk",
]
