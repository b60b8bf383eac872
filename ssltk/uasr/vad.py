"""Energy-based voice activity detection, for silence removal before unsupervised ASR.

wav2vec-U removes silences (with rVAD) from training and evaluation audio, so that the
generator sees speech only and ``<SIL>`` tokens come from the text side.  This detector
follows rVAD-fast's idea in a simpler form: frame log-energies (25 ms windows, 10 ms
hop); a per-utterance noise floor (a low percentile) and speech level (a high
percentile); frames above ``floor + threshold * (level - floor)`` are speech; gaps
shorter than ``min_silence`` are bridged, runs shorter than ``min_speech`` dropped, and
``padding`` seconds kept around each run.  An utterance without enough contrast
(``level - floor < min_range_db``: all speech or all silence) is kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssltk.data.datadir import DataDirError, read_entries


@dataclass
class VadConfig:
    frame: float = 0.025  # seconds
    hop: float = 0.010
    floor_percentile: float = 10.0
    level_percentile: float = 90.0
    threshold: float = 0.3  # position of the threshold between floor and level
    min_range_db: float = 10.0
    min_speech: float = 0.10  # seconds
    min_silence: float = 0.30
    padding: float = 0.05


def frame_energies(samples: np.ndarray, rate: int, cfg: VadConfig) -> np.ndarray:
    """Log-energy (dB) of each frame; frame ``i`` starts at ``i * hop``."""
    win, hop = int(cfg.frame * rate), int(cfg.hop * rate)
    if len(samples) < win:
        samples = np.pad(samples, (0, win - len(samples)))
    n = 1 + (len(samples) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    power = np.mean(samples[idx].astype(np.float64) ** 2, axis=1)
    return 10 * np.log10(power + 1e-12)


def voiced_intervals(samples: np.ndarray, rate: int, cfg: VadConfig | None = None
                     ) -> list[tuple[int, int]]:
    """Speech as half-open sample intervals ``[(start, end), ...]``, sorted, disjoint."""
    cfg = cfg or VadConfig()
    energy = frame_energies(samples, rate, cfg)
    floor = np.percentile(energy, cfg.floor_percentile)
    level = np.percentile(energy, cfg.level_percentile)
    if level - floor < cfg.min_range_db:
        return [(0, len(samples))]
    speech = energy > floor + cfg.threshold * (level - floor)
    runs = _runs(speech)
    hop = cfg.hop
    # bridge short gaps, then drop short runs
    merged: list[list[int]] = []
    for start, end in runs:
        if merged and (start - merged[-1][1]) * hop < cfg.min_silence:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    win = cfg.frame
    out: list[tuple[int, int]] = []
    for start, end in merged:
        if (end - start) * hop < cfg.min_speech:
            continue
        first = max(0, int((start * hop - cfg.padding) * rate))
        last = min(len(samples), int(((end - 1) * hop + win + cfg.padding) * rate))
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out or [(0, len(samples))]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index runs where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def to_original_time(t: float, intervals: list[tuple[float, float]]) -> float:
    """Map time ``t`` (seconds) of the silence-removed audio to the original audio, given
    the kept intervals in original seconds; times past the end map to the last end."""
    for start, end in intervals:
        if t <= end - start:
            return start + t
        t -= end - start
    return intervals[-1][1] if intervals else t


def format_intervals(intervals: list[tuple[int, int]], rate: int) -> str:
    return " ".join(f"{s / rate:.3f} {e / rate:.3f}" for s, e in intervals)


def read_intervals(path) -> dict[str, list[tuple[float, float]]]:
    """``vad_intervals``: ``<utt> start end [start end ...]`` in seconds."""
    out = {}
    for e in read_entries(path):
        try:
            values = [float(v) for v in e.value.split()]
        except ValueError:
            raise DataDirError(f"{e.where}: times must be numbers") from None
        if not values or len(values) % 2:
            raise DataDirError(f"{e.where}: expected start/end pairs")
        out[e.key] = list(zip(values[::2], values[1::2]))
    return out
