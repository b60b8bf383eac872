"""Pseudo-speakers: an espeak voice variant plus pitch, pitch range, rate and volume.

Each split draws its speakers from its own variants, so dev and test speakers
are unseen in training twice over: new ids, and voice variants (formant sets)
never heard in train.  Only variants without breath noise or the Klatt
synthesiser are used: their output is reproducible with every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssltk.corpora.synth.espeak import Voice

SPLITS = ("train", "dev", "test")

# espeak-ng variant -> gender; split -> variants.
VARIANTS = {
    "train": {"m1": "m", "m2": "m", "m3": "m", "m4": "m", "m8": "m", "Andy": "m", "Lee": "m",
              "john": "m", "grandpa": "m", "max": "m", "f1": "f", "aunty": "f", "belinda": "f",
              "steph": "f"},
    "dev": {"m6": "m", "ian": "m", "linda": "f"},
    "test": {"m5": "m", "norbert": "m", "f4": "f"},
}


@dataclass(frozen=True)
class Speaker:
    """A pseudo-speaker: one voice variant and prosody, in any language."""

    id: str
    variant: str
    gender: str  # "m" or "f"
    pitch: int
    range: int
    rate: int
    volume: int  # espeak volume; kept <= 80: louder variants saturate near 100

    def voice(self, language: str) -> Voice:
        """This speaker's espeak voice for ``language`` (e.g. "en-us", "tn")."""
        return Voice(f"{language}+{self.variant}", rate=self.rate, pitch=self.pitch,
                     range=self.range, volume=self.volume)


def speakers_per_split(num_utts: int) -> dict[str, int]:
    """How many pseudo-speakers each split gets for a corpus of ``num_utts``."""
    total = int(np.clip(num_utts // 20, 6, 60))
    held_out = max(1, round(0.15 * total))
    return {"train": total - 2 * held_out, "dev": held_out, "test": held_out}


def make_speakers(rng: np.random.Generator, counts: dict[str, int]) -> dict[str, list[Speaker]]:
    """Draw distinct pseudo-speakers for each split (ids ``spk001`` ... in split order)."""
    out: dict[str, list[Speaker]] = {}
    seen: set[tuple] = set()
    number = 0
    for split in SPLITS:
        variants = list(VARIANTS[split])
        order = [variants[i] for i in rng.permutation(len(variants))]
        out[split] = []
        for k in range(counts[split]):
            variant = order[k % len(order)]
            while True:
                settings = (variant, int(rng.integers(30, 71)), int(rng.integers(30, 81)),
                            int(rng.integers(145, 196)), int(rng.integers(50, 81)))
                if settings not in seen:
                    break
            seen.add(settings)
            number += 1
            out[split].append(Speaker(f"spk{number:03d}", variant, VARIANTS[split][variant],
                                      *settings[1:]))
    return out


def split_sizes(num_utts: int) -> dict[str, int]:
    """Utterances per split: 10% dev, 10% test (at least one each), the rest train."""
    held_out = max(1, round(0.1 * num_utts))
    return {"train": num_utts - 2 * held_out, "dev": held_out, "test": held_out}


def assign(rng: np.random.Generator, speakers: list[Speaker], n: int) -> list[Speaker]:
    """``n`` speakers from ``speakers``, each used about equally often, in random order."""
    pool = [speakers[i % len(speakers)] for i in range(n)]
    return [pool[i] for i in rng.permutation(n)]
