"""Applying distortions to utterances and batches, seeded per utterance.

Every random choice for an utterance (whether it is distorted, which distortion, its
parameters, the noise segment, the room) comes from `utterance_rng(seed, utt, epoch)`, so
the same seed gives the same audio in any process, batch order or worker, and after a
resumed run reaches the same epoch.  No global generator is read or advanced.  The one
exception to "any batch": babble made from the batch (no ``data_dir``) depends on which
utterances share the batch (not on their order).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch

from ssltk.distort.config import DistortionConfig, DistortionSetConfig
from ssltk.distort.kinds import KINDS
from ssltk.distort.sources import BabblePool
from ssltk.errors import UserError


def utterance_rng(seed: int, utt: str, epoch: int = 0) -> np.random.Generator:
    """The generator of one utterance's draws: a function of ``(seed, utt, epoch)`` only (the id
    is hashed with BLAKE2, not Python's per-process salted ``hash``)."""
    key = int.from_bytes(hashlib.blake2b(utt.encode("utf-8"), digest_size=16).digest(), "little")
    return np.random.default_rng([seed, epoch, key])


class Distorter:
    """Distorts each utterance with one of ``distortions`` (drawn uniformly), with chance ``prob``.

    >>> d = Distorter.from_config(load_distortions("conf/distort.yaml"), "seen")
    >>> wavs, lens = d.batch(wavs, lens, utts, epoch=3)
    """

    def __init__(self, distortions: Sequence[DistortionConfig], seed: int = 0, sample_rate: int = 16000,
                 prob: float = 1.0):
        if not distortions:
            raise UserError("no distortions to draw from")
        self.configs = list(distortions)
        self.seed, self.sample_rate, self.prob = seed, sample_rate, prob
        # noise and impulse-response files are checked here, before any audio is touched
        self.appliers = [KINDS[d.kind].make(d.params(), sample_rate, seed) for d in self.configs]

    @classmethod
    def from_config(cls, cfg: DistortionSetConfig, names: str | Sequence[str] = "seen") -> Distorter:
        """A distorter over ``cfg``'s ``"seen"`` or ``"unseen"`` distortions, or those named."""
        if isinstance(names, str) and names in ("seen", "unseen"):
            which, names = names, getattr(cfg, names)
            if not names:
                raise UserError(f"the distortion config lists no {which} distortions")
        elif isinstance(names, str):
            names = [names]
        try:
            configs = [cfg.entry(n) for n in names]
        except KeyError as e:
            raise UserError(e.args[0]) from None
        return cls(configs, cfg.seed, cfg.sample_rate, cfg.prob)

    @property
    def keeps_length(self) -> bool:
        """Whether every distortion keeps an utterance's length (all but speed)."""
        return all(KINDS[d.kind].keeps_length for d in self.configs)

    def label(self, utt: str, epoch: int = 0) -> int:
        """The draw of `utterance` for ``utt``: 0 undistorted, ``1 + i`` the ``i``-th distortion
        (the classes of domain-adversarial training)."""
        rng = utterance_rng(self.seed, utt, epoch)
        distorted = rng.random() < self.prob
        choice = int(rng.integers(len(self.appliers)))
        return 1 + choice if distorted else 0

    def utterance(self, wav: np.ndarray | torch.Tensor, utt: str, epoch: int = 0,
                  pool: BabblePool | None = None) -> np.ndarray:
        """Utterance ``utt`` (its valid samples, ``[T]``) distorted: a float64 array.

        ``pool``: the utterances that babble without a ``data_dir`` is made of.
        """
        if isinstance(wav, torch.Tensor):
            wav = wav.detach().cpu().double().numpy()
        x = np.asarray(wav, np.float64)
        rng = utterance_rng(self.seed, utt, epoch)
        distorted = rng.random() < self.prob
        choice = int(rng.integers(len(self.appliers)))
        return self.appliers[choice](x, rng, utt, pool) if distorted else x.copy()

    def batch(self, wavs: torch.Tensor, lens: torch.Tensor, utts: Sequence[str],
              epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Distort ``wavs [B, T]`` (valid lengths ``lens``, ids ``utts``): ``(wavs, lens)``, padding
        zero, same dtype and device.  Babble without a data_dir is made of the batch's other
        utterances."""
        if not (wavs.dim() == 2 and wavs.shape[0] == len(lens) == len(utts)):
            raise ValueError(f"expected wavs [B, T], lens [B] and B ids, got {tuple(wavs.shape)}, "
                             f"{tuple(lens.shape)}, {len(utts)}")
        valid = [w[:n].detach().cpu().double().numpy() for w, n in zip(wavs, lens.tolist())]
        pool = BabblePool.from_arrays(dict(zip(utts, valid)))
        out = [self.utterance(x, utt, epoch, pool) for x, utt in zip(valid, utts)]
        new_lens = torch.tensor([len(y) for y in out], dtype=lens.dtype, device=lens.device)
        width = wavs.shape[1] if self.keeps_length or not out else int(new_lens.max())
        padded = wavs.new_zeros(len(out), width)
        for i, y in enumerate(out):
            padded[i, :len(y)] = torch.from_numpy(y).to(padded)
        return padded, new_lens
