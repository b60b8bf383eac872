"""Frames to cluster: from a feature dump (``feats.scp``) or a hub upstream's layer.

Both sources yield ``(utt, feats[T, D] float32 tensor)`` (a dump in scp order, an
upstream in its length-sorted batch order), each matrix cut or checked to its frame
count (``utt2num_frames`` for a dump, the upstream's ``lens`` otherwise).
`sample_frames` draws a uniform random subset of all frames with a per-utterance
seed, so the subset does not depend on batching.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

from ssltk.data.datadir import DataDir, DataDirError
from ssltk.data.dump import Dump
from ssltk.errors import UserError

Frames = Iterator[tuple[str, torch.Tensor]]


class FeatureSource:
    """Where frames come from: ``describe()`` for metadata, ``frames()`` to iterate."""

    frame_rate: float
    dim: int

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def frames(self) -> Frames:
        raise NotImplementedError


class DumpSource(FeatureSource):
    """A feature dump (`ssltk.data.dump`: a directory, or its ``feats.scp``), read through
    `ssltk.data.dump.Dump`; ``feats_info.yaml`` and ``utt2num_frames`` are optional here."""

    def __init__(self, feats: str | Path):
        self.dump = Dump(feats, strict=False)
        self.scp, self.info = self.dump.scp, self.dump.info
        self.frame_rate = self.dump.frame_rate or 0.0
        self.dim = self.dump.dim

    def describe(self) -> dict[str, Any]:
        return {"feats": str(self.scp), "upstream": self.info.get("upstream"),
                "layer": self.info.get("layer"), "weights": self.info.get("weights"),
                "layer_norm": bool(self.info.get("layer_norm")),
                "frame_rate": self.frame_rate or None}

    def frames(self) -> Frames:
        for utt, mat in self.dump:
            yield utt, torch.from_numpy(mat)


def parse_opts(opts: list[str] | None) -> dict[str, Any]:
    """``["deltas=true", "num_ceps=20"]`` -> ``{"deltas": True, "num_ceps": 20}`` (YAML values)."""
    out = {}
    for opt in opts or []:
        key, sep, value = opt.partition("=")
        if not sep or not key:
            raise UserError(f"--upstream-opt {opt!r}: expected KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


class UpstreamSource(FeatureSource):
    """Hidden state ``layer`` (default: the last) of ``hub.load(upstream, **opts)`` on the
    audio of a data dir, batched by padded seconds as in ``extract_feats``."""

    def __init__(self, data: str | Path, upstream: str, layer: int | None = None,
                 opts: dict[str, Any] | None = None, device: str | torch.device = "cpu",
                 batch_seconds: float = 100.0):
        from ssltk import hub

        self.ddir = DataDir(data)
        self.name, self.opts = upstream, dict(opts or {})
        self.model = hub.load(upstream, **self.opts).eval()
        n = self.model.num_layers
        if layer is not None and not -(n + 1) <= layer <= n:
            raise UserError(f"--layer {layer}: {upstream} has hidden states 0..{n}")
        self.layer = n if layer is None else layer % (n + 1)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.batch_seconds = batch_seconds
        self.frame_rate = float(self.model.frame_rate)
        self.dim = int(self.model.hidden_size)

    def describe(self) -> dict[str, Any]:
        return {"upstream": self.name, "upstream_opts": self.opts, "layer": self.layer,
                "frame_rate": self.frame_rate}

    @torch.inference_mode()
    def frames(self) -> Frames:
        from ssltk.data.batching import UtteranceDataset, batch_loader, length_sorted_batches, utt_durations

        dataset = UtteranceDataset(self.ddir, self.model.sample_rate)
        durations = utt_durations(self.ddir, write=False)
        batches = length_sorted_batches(durations, self.batch_seconds)
        seen = 0
        for utts, wavs, lens in batch_loader(dataset, batches):
            hidden, frame_lens = self.model(wavs.to(self.device), lens.to(self.device))
            feats = hidden[self.layer].float()
            for i, utt in enumerate(utts):
                seen += 1
                yield utt, feats[i, :int(frame_lens[i])].cpu()
        if seen != len(durations):
            raise DataDirError(f"{self.ddir.path}: {len(durations) - seen} utterances yielded no features")


def sample_frames(frames: Frames, max_frames: int, seed: int) -> tuple[torch.Tensor, int, int]:
    """A uniform random subset of at most ``max_frames`` frames of all utterances.

    Each frame gets a random key from a generator seeded by ``(seed, utt)``; the
    frames with the smallest keys are kept (bounded memory, order-independent).
    Returns ``(sample[M, D], total frames seen, utterances seen)``.
    """
    key_parts: list[torch.Tensor] = []
    row_parts: list[torch.Tensor] = []
    buffered = total = num_utts = 0
    for utt, feats in frames:
        num_utts += 1
        total += len(feats)
        if len(feats) == 0:
            continue
        gen = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{utt}".encode()))
        key_parts.append(torch.rand(len(feats), generator=gen))
        row_parts.append(feats.float())
        buffered += len(feats)
        if buffered > 2 * max_frames:  # amortised: each frame is copied O(1) times
            keys, rows = _smallest(torch.cat(key_parts), torch.cat(row_parts), max_frames)
            key_parts, row_parts, buffered = [keys], [rows], len(keys)
    if not row_parts:
        raise UserError("no frames to cluster: every utterance is empty")
    _, rows = _smallest(torch.cat(key_parts), torch.cat(row_parts), max_frames)
    return rows, total, num_utts


def _smallest(keys: torch.Tensor, rows: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.argsort(keys)[:m]
    return keys[order], rows[order]
