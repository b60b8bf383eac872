"""Batches for the task models: audio (``wav.scp``) or precomputed features (``feats.scp``).

A batch is a dict: ``utts`` (ids), then either ``wavs [B, T]`` + ``wav_lens``
or ``feats [B, T, D]`` + ``feat_lens``, and the targets when known:
``labels [B]`` (classification) and/or ``targets [B, S]`` + ``target_lens``
(CTC; padded with 0).  Utterances are grouped by length (longest first,
bounded by padded seconds) and the batch order is reshuffled every epoch by
`EpochBatchSampler`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ssltk.data.batching import UtteranceDataset, length_sorted_batches, utt_durations
from ssltk.data.datadir import DataDir, DataDirError
from ssltk.errors import UserError
from ssltk.train import EpochBatchSampler

FEATS_INFO = "feats_info.yaml"
# feats_info.yaml fields that must agree between train, valid and test dumps
DUMP_KEYS = ("upstream", "layer", "weights", "layer_norm", "dim")


def read_feats_info(ddir: DataDir) -> dict:
    """``feats_info.yaml`` of a dump directory (made by ``ssltk.bin.extract_feats``)."""
    for name in ("feats.scp", "utt2num_frames", FEATS_INFO):
        if not ddir.has(name):
            raise DataDirError(f"{ddir.path}: no {name}; precomputed features come from "
                               "python -m ssltk.bin.extract_feats (its --out directory)")
    info = yaml.safe_load((ddir.path / FEATS_INFO).read_text(encoding="utf-8")) or {}
    missing = [k for k in (*DUMP_KEYS, "frame_rate") if k not in info]
    if missing:
        raise DataDirError(f"{ddir.path / FEATS_INFO}: missing {', '.join(missing)}")
    return info


def check_same_dump(a: dict, b: dict, a_name: str, b_name: str) -> None:
    diff = [k for k in DUMP_KEYS if a.get(k) != b.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in diff)
        raise UserError(f"{a_name} and {b_name} hold different features ({shown})")


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


class TaskDataset(torch.utils.data.Dataset):
    """Inputs of a data dir by utterance id, with optional targets ``{utt: target}``."""

    def __init__(self, ddir: DataDir, kind: str, sample_rate: int = 16000,
                 targets: dict[str, Any] | None = None):
        self.ddir, self.kind, self.targets = ddir, kind, targets
        if kind == "feats":
            import kaldiio

            self.feats = kaldiio.load_scp(str(ddir.path / "feats.scp"))
        else:
            self.audio = UtteranceDataset(ddir, sample_rate)

    def __getitem__(self, utt: str) -> tuple[str, torch.Tensor, Any]:
        if self.kind == "feats":
            x = torch.from_numpy(np.array(self.feats[utt], dtype=np.float32))  # a writable copy
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
    tpad = torch.zeros(len(targets), max(int(tlens.max()), 1), dtype=torch.long)
    for i, t in enumerate(targets):
        tpad[i, :len(t)] = torch.tensor(t, dtype=torch.long)
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
    dataset = TaskDataset(ddir, kind, sample_rate, targets)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                       num_workers=num_workers,
                                       persistent_workers=num_workers > 0)


def encode_labels(labels: dict[str, str], vocab: list[str], where: Path) -> dict[str, int]:
    index = {label: i for i, label in enumerate(vocab)}
    out = {}
    for utt, label in labels.items():
        if label not in index:
            raise UserError(f"utterance '{utt}' of {where}: label '{label}' is not one of the "
                            f"{len(vocab)} labels seen in training")
        out[utt] = index[label]
    return out


def encode_texts(ddir: DataDir, kind: str, tokenizer, allow_unk: bool) -> dict[str, list[int]]:
    """Token ids of every utterance's transcript (``tokenizer.table``, e.g. text / text.phn)."""
    texts = lookup(ddir, kind, tokenizer.table)
    langs = lookup(ddir, kind, tokenizer.lang_table) if tokenizer.needs_langs else {}
    out = {}
    for utt, text in texts.items():
        try:
            out[utt] = tokenizer.encode(text, langs[utt].split() if langs else None, allow_unk, utt)
        except UserError as e:
            raise type(e)(f"{ddir.path / tokenizer.table}: {e}") from None
    return out


def sample_rate_of(frontend) -> int:
    up = getattr(frontend, "upstream", None)
    return int(getattr(up, "sample_rate", 16000) or 16000)

