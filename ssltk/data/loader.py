"""Batches of a data directory for every model ssltk trains: audio (``wav.scp``) or
precomputed features (``feats.scp``, a dump of `ssltk.data.dump`).

A batch is a dict: ``utts`` (ids), then either ``wavs [B, T]`` + ``wav_lens``
or ``feats [B, T, D]`` + ``feat_lens``, and the targets when known:
``labels [B]`` (classification) and/or ``targets [B, S]`` + ``target_lens``
(CTC token ids, or float frame tracks given as tensors ``[S]`` or ``[S, C]``, then
``targets [B, S, C]``; padded with 0).  Utterances are grouped by length (longest first,
bounded by padded seconds) and the batch order is reshuffled every epoch by
`EpochBatchSampler`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ssltk.data.batching import UtteranceDataset, length_sorted_batches, utt_durations
from ssltk.data.datadir import DataDir, DataDirError
from ssltk.data.dump import Dump
from ssltk.train.config import require
from ssltk.train.sampler import EpochBatchSampler


@dataclass
class DataConfig:
    """Batching: length-sorted batches bounded by padded seconds (batch size x longest)."""

    batch_seconds: float = 100.0  # training batches
    max_batch: int = 32  # utterances per batch at most
    valid_batch_seconds: float | None = None  # validation / inference (default: batch_seconds)

    def __post_init__(self) -> None:
        require(self.batch_seconds > 0, "batch_seconds", f"must be > 0, got {self.batch_seconds}")
        require(self.max_batch >= 1, "max_batch", f"must be >= 1, got {self.max_batch}")
        require(self.valid_batch_seconds is None or self.valid_batch_seconds > 0,
                 "valid_batch_seconds", f"must be > 0 or null, got {self.valid_batch_seconds}")



def utt_ids(ddir: DataDir, kind: str) -> list[str]:
    return list(ddir.table("feats.scp")) if kind == "feats" else ddir.utt_ids()


def _input_table(ddir: DataDir, kind: str) -> Path:
    if kind == "feats":
        return ddir.path / "feats.scp"
    return ddir.path / ("segments" if ddir.has("segments") else "wav.scp")


def lookup(ddir: DataDir, kind: str, table: str) -> dict[str, str]:
    """``{utt: value}`` of ``table`` for every input utterance; a missing one is an error."""
    if not ddir.has(table):
        raise DataDirError(f"{ddir.path}: no {table} table")
    values = ddir.table(table)
    out = {}
    for utt in utt_ids(ddir, kind):
        if utt not in values:
            raise DataDirError(f"utterance '{utt}' of {_input_table(ddir, kind)} is missing "
                               f"from {ddir.path / table}")
        out[utt] = values[utt]
    return out


class InputDataset(torch.utils.data.Dataset):
    """Inputs of a data dir by utterance id, with optional targets ``{utt: target}``."""

    def __init__(self, ddir: DataDir, kind: str, sample_rate: int = 16000,
                 targets: dict[str, Any] | None = None):
        self.ddir, self.kind, self.targets = ddir, kind, targets
        if kind == "feats":
            self.feats = Dump(ddir.path, strict=False)
        else:
            self.audio = UtteranceDataset(ddir, sample_rate)

    def __getitem__(self, utt: str) -> tuple[str, torch.Tensor, Any]:
        if self.kind == "feats":
            x = torch.from_numpy(self.feats.matrix(utt))
        else:
            x = self.audio[utt][1]
        return utt, x, None if self.targets is None else self.targets[utt]


def collate(items: list[tuple[str, torch.Tensor, Any]]) -> dict:
    """Pad inputs (and CTC targets) of one batch; see the module docstring."""
    utts = [u for u, _, _ in items]
    xs = [x for _, x, _ in items]
    lens = torch.tensor([len(x) for x in xs], dtype=torch.long)
    padded = torch.zeros(len(xs), int(lens.max()), *xs[0].shape[1:])
    for i, x in enumerate(xs):
        padded[i, :len(x)] = x
    batch = {"utts": utts}
    if xs[0].dim() == 1:
        batch.update(wavs=padded, wav_lens=lens)
    else:
        batch.update(feats=padded, feat_lens=lens)
    targets = [t for _, _, t in items]
    if targets[0] is None:
        return batch
    if isinstance(targets[0], tuple):  # a label and a transcript (multi-task)
        batch["labels"] = torch.tensor([t[0] for t in targets], dtype=torch.long)
        targets = [t[1] for t in targets]
    elif isinstance(targets[0], int):
        batch["labels"] = torch.tensor(targets, dtype=torch.long)
        return batch
    tlens = torch.tensor([len(t) for t in targets], dtype=torch.long)
    dtype = targets[0].dtype if torch.is_tensor(targets[0]) else torch.long  # float: frame tracks
    rest = tuple(targets[0].shape[1:]) if torch.is_tensor(targets[0]) else ()  # [S, C] tracks
    tpad = torch.zeros(len(targets), max(int(tlens.max()), 1), *rest, dtype=dtype)
    for i, t in enumerate(targets):
        tpad[i, :len(t)] = torch.as_tensor(t, dtype=dtype)
    batch.update(targets=tpad, target_lens=tlens)
    return batch


def durations(ddir: DataDir, kind: str, frame_rate: float | None = None) -> dict[str, float]:
    """Seconds per utterance: ``utt2dur`` (measured when absent) or ``utt2num_frames / frame_rate``."""
    if kind == "feats":
        frames = lookup(ddir, kind, "utt2num_frames")
        return {u: int(n) / frame_rate for u, n in frames.items()}
    return utt_durations(ddir)


def make_loader(ddir: DataDir, kind: str, *, sample_rate: int = 16000, frame_rate: float | None = None,
                targets: dict[str, Any] | None = None, batch_seconds: float, max_batch: int,
                shuffle: bool, seed: int = 0, num_workers: int = 0,
                utts: list[str] | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader over length-sorted batches of ``utts`` (default: all), shuffled per
    epoch when ``shuffle``; validation/inference (``shuffle=False``) keeps every batch once."""
    durs = durations(ddir, kind, frame_rate)
    if utts is not None:
        durs = {u: durs[u] for u in utts}
    if not durs:
        raise DataDirError(f"{ddir.path}: no utterances")
    batches = length_sorted_batches(durs, batch_seconds, max_batch)
    sampler = EpochBatchSampler(batches, shuffle=shuffle, seed=seed, pad=shuffle)
    dataset = InputDataset(ddir, kind, sample_rate, targets)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                       num_workers=num_workers,
                                       persistent_workers=num_workers > 0)


def sample_rate_of(frontend) -> int:
    up = getattr(frontend, "upstream", None)
    return int(getattr(up, "sample_rate", 16000) or 16000)

