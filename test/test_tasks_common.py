"""Tiny synthetic corpora shared by the task tests (no tests here).

* `tone_corpus`: two clearly different classes, a pure tone or white noise
  (``utt2category``), learnable from mean-pooled fbank features;
* `letter_corpus`: "letters" spoken as tones of distinct pitch, words separated
  by longer pauses (``text``), learnable by CTC from fbank features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ssltk.data.datadir import utt2spk_to_spk2utt, write_table

RATE = 16000
LETTER_HZ = {"a": 400.0, "b": 900.0, "c": 1800.0, "d": 3200.0}


def _write_dir(ddir: Path, wavs: dict[str, np.ndarray], tables: dict[str, dict[str, str]]) -> Path:
    ddir.mkdir(parents=True, exist_ok=True)
    scp = {}
    for utt, samples in wavs.items():
        path = ddir / "wav" / f"{utt}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, samples.astype(np.float32), RATE, subtype="FLOAT")
        scp[utt] = str(path)
    write_table(ddir / "wav.scp", scp)
    utt2spk = {u: u.split("-")[0] for u in wavs}
    write_table(ddir / "utt2spk", utt2spk)
    write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    for name, table in tables.items():
        write_table(ddir / name, table)
    return ddir


def tone_corpus(ddir: Path, n: int, seed: int) -> Path:
    """``n`` utterances (0.3-0.6 s), half tones, half noise; ``utt2category``: tone / noise."""
    rng = np.random.default_rng(seed)
    wavs, cats = {}, {}
    for i in range(n):
        length = int(RATE * rng.uniform(0.3, 0.6))
        if i % 2 == 0:
            t = np.arange(length) / RATE
            x = 0.5 * np.sin(2 * np.pi * rng.uniform(300, 1000) * t) + 0.01 * rng.standard_normal(length)
            cat = "tone"
        else:
            x, cat = 0.3 * rng.standard_normal(length), "noise"
        utt = f"s{i % 3}-{i:03d}"
        wavs[utt], cats[utt] = x, cat
    return _write_dir(ddir, wavs, {"utt2category": cats})


def letter_audio(text: str, rng: np.random.Generator) -> np.ndarray:
    """Each letter a 0.12 s tone, 0.05 s pauses between letters, 0.15 s between words."""
    parts = [np.zeros(int(0.05 * RATE))]
    for w, word in enumerate(text.split()):
        if w:
            parts.append(np.zeros(int(0.15 * RATE)))
        for k, letter in enumerate(word):
            if k:
                parts.append(np.zeros(int(0.05 * RATE)))
            t = np.arange(int(0.12 * RATE)) / RATE
            parts.append(0.5 * np.sin(2 * np.pi * LETTER_HZ[letter] * t))
    parts.append(np.zeros(int(0.05 * RATE)))
    x = np.concatenate(parts)
    return x + 0.003 * rng.standard_normal(len(x))


def letter_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = list(LETTER_HZ)
    texts = []
    for _ in range(n):
        words = [
            "".join(rng.choice(letters, size=int(rng.integers(1, 4))))
            for _ in range(int(rng.integers(1, 3)))
        ]
        texts.append(" ".join(words))
    return texts


def letter_corpus(ddir: Path, texts: list[str], seed: int, prefix: str = "u") -> Path:
    """One utterance per text; ``text`` holds the transcripts."""
    rng = np.random.default_rng(seed)
    wavs, text = {}, {}
    for i, t in enumerate(texts):
        utt = f"{prefix}{i % 2}-{i:03d}"
        wavs[utt], text[utt] = letter_audio(t, rng), t
    return _write_dir(ddir, wavs, {"text": text})
