"""CTM alignments (``<utt> <channel> <start s> <duration s> <label>``) and frame labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ssltk.data.datadir import DataDirError

Segment = tuple[float, float, str]  # start, end (seconds), label

WINDOW_CENTRE = 0.0125  # seconds: centre of a 25 ms window (Kaldi MFCC/fbank, wav2vec2 CNN)


def read_ctm(path: str | os.PathLike) -> dict[str, list[Segment]]:
    """``{utt: [(start, end, label), ...]}`` sorted by start; errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: no such file")
    out: dict[str, list[Segment]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 5:
                raise DataDirError(f"{path}:{lineno}: expected '<utt> <channel> <start> <duration> "
                                   f"<label>', got {line.strip()!r}")
            try:
                start, dur = float(fields[2]), float(fields[3])
            except ValueError:
                raise DataDirError(f"{path}:{lineno}: start/duration are not numbers") from None
            if start < 0 or dur < 0:
                raise DataDirError(f"{path}:{lineno}: negative start or duration")
            out.setdefault(fields[0], []).append((start, start + dur, fields[4]))
    for segs in out.values():
        segs.sort()
    return out


def frame_labels(segments: list[Segment], num_frames: int, frame_rate: float,
                 offset: float = WINDOW_CENTRE) -> list[str | None]:
    """The label of each frame: the segment holding time ``offset + i / frame_rate``
    (the centre of frame ``i``'s window); ``None`` where no segment covers it."""
    if not segments or num_frames <= 0:
        return [None] * max(0, num_frames)
    starts = np.array([s for s, _, _ in segments])
    ends = np.array([e for _, e, _ in segments])
    times = offset + np.arange(num_frames) / frame_rate
    idx = np.searchsorted(starts, times, side="right") - 1
    covered = (idx >= 0) & (times < ends[idx.clip(min=0)])
    return [segments[j][2] if ok else None for j, ok in zip(idx.tolist(), covered.tolist())]
