"""Utterance datasets and length-sorted batches for upstream models.

Batches are bounded by padded audio seconds (``batch size x longest``): the
cost of a batched forward pass, not the sum of the utterances' lengths.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ssltk.data.audio import AudioSpec, audio_info, load_audio
from ssltk.data.datadir import DataDir, DataDirError


def utt_durations(ddir: DataDir, write: bool = True) -> dict[str, float]:
    """Seconds per utterance, from ``utt2dur`` when present, else measured.

    Headers are read for files, segment times used when known; pipes and arks
    are decoded.  The result is written to ``utt2dur`` (as Kaldi's
    get_utt2dur.sh does) unless ``write`` is False.
    """
    specs = ddir.audio_specs()
    if ddir.has("utt2dur"):
        durs = {u: float(d) for u, d in ddir.table("utt2dur").items()}
        missing = specs.keys() - durs.keys()
        if not missing:
            return {u: durs[u] for u in specs}
        print(f"{ddir.path / 'utt2dur'}: {len(missing)} utterances missing; measuring again",
              file=sys.stderr)
    durs = {utt: _duration(spec) for utt, spec in specs.items()}
    if write:
        ddir.write("utt2dur", {u: f"{d:.4f}" for u, d in durs.items()})
    return durs


def _duration(spec: AudioSpec) -> float:
    if spec.end is not None:
        return spec.end - spec.start
    if spec.is_pipe or ".ark:" in spec.entry:
        samples, rate = load_audio(spec)
        return len(samples) / rate
    frames, rate, _ = audio_info(spec)
    return frames / rate - spec.start


def length_sorted_batches(durations: dict[str, float], max_seconds: float,
                          max_batch: int = 64) -> list[list[str]]:
    """Group utterances, longest first, so that each batch's padded length
    (count x longest) stays within ``max_seconds``; an utterance longer than
    the bound gets a batch of its own."""
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    order = sorted(durations, key=lambda u: (-durations[u], u))
    batches: list[list[str]] = []
    for utt in order:
        if batches:
            batch = batches[-1]
            longest = durations[batch[0]]
            if len(batch) < max_batch and (len(batch) + 1) * longest <= max_seconds:
                batch.append(utt)
                continue
        batches.append([utt])
    return batches


class UtteranceDataset(torch.utils.data.Dataset):
    """Audio of a data dir's utterances at ``sample_rate``, by utterance id."""

    def __init__(self, data_dir: str | Path | DataDir, sample_rate: int = 16000):
        self.ddir = data_dir if isinstance(data_dir, DataDir) else DataDir(data_dir)
        self.specs = self.ddir.audio_specs()
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, utt: str) -> tuple[str, torch.Tensor]:
        if utt not in self.specs:
            raise DataDirError(f"utterance '{utt}' not in {self.ddir.path}")
        samples, _ = load_audio(self.specs[utt], target_rate=self.sample_rate)
        return utt, torch.from_numpy(np.ascontiguousarray(samples))


def collate_audio(items: list[tuple[str, torch.Tensor]]) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """``[(utt, wav)]`` -> ``(utts, wavs [B, T] zero-padded, lens [B])``."""
    utts = [u for u, _ in items]
    lens = torch.tensor([len(w) for _, w in items], dtype=torch.long)
    wavs = torch.zeros(len(items), int(lens.max()))
    for i, (_, w) in enumerate(items):
        wavs[i, : len(w)] = w
    return utts, wavs, lens


def batch_loader(dataset: UtteranceDataset, batches: list[list[str]], num_workers: int = 0):
    """A DataLoader yielding ``(utts, wavs, lens)`` for the given id batches."""
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, collate_fn=collate_audio, num_workers=num_workers,
        persistent_workers=False, prefetch_factor=2 if num_workers else None)

