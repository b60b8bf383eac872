"""Unpaired batches for the GAN: speech features (+ k-means labels, + CLIP targets) and,
independently, real phone sequences.

Speech comes from a feature dump (`ssltk.data.dump`, e.g. of ``ssltk.bin.extract_feats``;
read once into memory; ``spec`` says which features),
text from ``lm.phones.txt`` (one ``<SIL>``-inserted phone sequence per line, made by
``ssltk.bin.uasr_text``).  A training "epoch" is ``updates_per_epoch`` batches (the
trainer validates and checkpoints after each, as fairseq's ``validate_interval_updates``):
speech utterances are drawn without replacement from a shuffled order that continues
across epochs, text sequences at random with replacement, both from generators seeded by
``(seed, epoch)`` so a resumed run sees the same batches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ssltk.data.datadir import DataDir, DataDirError
from ssltk.data.dump import Dump
from ssltk.errors import UserError
from ssltk.pretraining.labels import align_labels, read_info, read_labels
from ssltk.uasr.text import read_phone_table


class SpeechSet:
    """Features of one dump, with optional k-means labels, CLIP targets and references."""

    def __init__(self, dump_dir: str | Path, km_dir: str | Path | None = None,
                 clip_targets: str | Path | None = None, ref_dir: str | Path | None = None):
        dump = Dump(DataDir(dump_dir).path)
        self.path, self.info, self.spec = dump.path, dump.info, dump.spec
        self.frame_rate = float(self.info["frame_rate"])
        self.utts, self.feats = [], []
        for utt, mat in dump:
            self.utts.append(utt)
            self.feats.append(torch.from_numpy(mat))
        if not self.utts:
            raise DataDirError(f"{dump.scp}: no utterances")
        self.dim = dump.dim
        self.km = self._labels(km_dir) if km_dir else None
        self.targets = self._targets(clip_targets) if clip_targets else None
        self.refs = self._refs(ref_dir) if ref_dir else None

    def __len__(self) -> int:
        return len(self.utts)

    def _labels(self, km_dir) -> list[np.ndarray]:
        info = read_info(km_dir)
        labels = read_labels(Path(km_dir) / "text.km")
        self.num_clusters = int(info["k"])
        out = []
        for utt, mat in zip(self.utts, self.feats):
            if utt not in labels:
                raise DataDirError(f"{Path(km_dir) / 'text.km'}: no labels for '{utt}'")
            out.append(align_labels(labels[utt], float(info["frame_rate"]), len(mat), self.frame_rate))
        return out

    def _targets(self, path) -> list[np.ndarray]:
        from ssltk.uasr.clip import read_targets

        table = read_targets(path)
        missing = [u for u in self.utts if u not in table]
        if missing:
            raise UserError(f"{path}: no CLIP target for {len(missing)} utterance(s), e.g. '{missing[0]}'")
        return [np.asarray(table[u], dtype=np.float32) for u in self.utts]

    def _refs(self, ref_dir) -> list[list[str]]:
        """Reference phones (evaluation only) from ``text.phn``; word boundaries dropped."""
        path = Path(ref_dir) / "text.phn"
        if not path.is_file():
            raise DataDirError(f"{path}: no such file (reference phones for PER)")
        table = read_phone_table(path)
        missing = [u for u in self.utts if u not in table]
        if missing:
            raise DataDirError(f"{path}: no reference for '{missing[0]}' ({len(missing)} missing)")
        return [table[u] for u in self.utts]

    def batch(self, index: list[int]) -> dict:
        lens = torch.tensor([len(self.feats[i]) for i in index])
        feats = torch.zeros(len(index), int(lens.max()), self.dim)
        for row, i in enumerate(index):
            feats[row, :lens[row]] = self.feats[i]
        out = {"utts": [self.utts[i] for i in index], "feats": feats, "feat_lens": lens}
        if self.km is not None:
            km = torch.full((len(index), int(lens.max())), -1, dtype=torch.long)
            for row, i in enumerate(index):
                km[row, :len(self.km[i])] = torch.from_numpy(self.km[i])
            out["km"] = km
        if self.targets is not None:
            out["clip_targets"] = torch.from_numpy(np.stack([self.targets[i] for i in index]))
        if self.refs is not None:
            out["refs"] = [self.refs[i] for i in index]
        return out

    def eval_batches(self, batch_size: int) -> list[dict]:
        """Length-sorted batches in a fixed order (validation, inference)."""
        order = sorted(range(len(self)), key=lambda i: (-len(self.feats[i]), self.utts[i]))
        return [self.batch(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]


def read_phone_text(path: str | Path, vocab: list[str]) -> list[torch.Tensor]:
    """``lm.phones.txt``: one phone sequence per line -> index tensors in ``vocab`` order."""
    index = {p: i for i, p in enumerate(vocab)}
    seqs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            phones = line.split()
            if not phones:
                continue
            unknown = [p for p in phones if p not in index]
            if unknown:
                raise UserError(f"{path}:{n}: phone '{unknown[0]}' is not in the inventory")
            seqs.append(torch.tensor([index[p] for p in phones]))
    if not seqs:
        raise UserError(f"{path}: no phone sequences")
    return seqs


class GanBatches:
    """``updates_per_epoch`` training batches: speech + an equal number of real sequences."""

    def __init__(self, speech: SpeechSet, text: list[torch.Tensor], batch_size: int,
                 updates_per_epoch: int, seed: int = 0):
        self.speech, self.text = speech, text
        self.batch_size = min(batch_size, len(speech))
        self.updates = updates_per_epoch
        self.seed = seed
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.updates

    def _speech_order(self) -> np.ndarray:
        """Indices used by this epoch: the stream of per-pass permutations, continued."""
        n, need = len(self.speech), self.updates * self.batch_size
        first = (self.epoch - 1) * need
        passes = range(first // n, (first + need - 1) // n + 1)
        stream = np.concatenate([np.random.default_rng([self.seed, p]).permutation(n) for p in passes])
        start = first - passes[0] * n
        return stream[start:start + need]

    def __iter__(self):
        order = self._speech_order()
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        for k in range(self.updates):
            batch = self.speech.batch(order[k * self.batch_size:(k + 1) * self.batch_size].tolist())
            picks = rng.integers(len(self.text), size=self.batch_size)
            seqs = [self.text[i] for i in picks]
            lens = torch.tensor([len(s) for s in seqs])
            text = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
            for row, s in enumerate(seqs):
                text[row, :len(s)] = s
            batch.update(text=text, text_lens=lens)
            yield batch
