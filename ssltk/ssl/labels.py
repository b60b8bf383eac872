"""Frame-level cluster labels of a data dir: ``text.km`` + ``km_info.yaml``.

``text.km``: ``<utt> <id> <id> ...``, one cluster id per frame at the clustered
features' frame rate (100 Hz for MFCC/fbank, 50 Hz for wav2vec2-style layers), as
fairseq's ``.km`` files.  ``km_info.yaml`` records ``frame_rate``, ``k`` and the source
(upstream, layer, codebook).  A model whose frame rate differs (HuBERT at 50 Hz on
100 Hz MFCC labels) picks its targets with `align_labels`, fairseq's rule.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ssltk.data.datadir import DataDirError, read_entries, write_table, write_text_atomic

LABELS = "text.km"
INFO = "km_info.yaml"
DURATION_TOL = 0.1  # seconds, as fairseq's hubert_dataset.verify_label_lengths


def write_labels(out_dir: str | os.PathLike, labels: dict[str, np.ndarray], info: dict[str, Any]) -> Path:
    """Write ``out_dir/text.km`` (sorted by id) and ``out_dir/km_info.yaml``."""
    out = Path(out_dir)
    write_table(out / LABELS, {u: " ".join(map(str, np.asarray(v).tolist())) for u, v in labels.items()})
    write_text_atomic(out / INFO, yaml.safe_dump(info, sort_keys=False))
    return out / LABELS


def read_labels(path: str | os.PathLike, k: int | None = None) -> dict[str, np.ndarray]:
    """``{utt: int64 ids}``; ids must be integers in ``[0, k)`` when ``k`` is given."""
    out = {}
    for e in read_entries(path):
        try:
            ids = np.array(e.value.split(), dtype=np.int64)
        except ValueError:
            raise DataDirError(f"{e.where}: cluster ids must be integers") from None
        if len(ids) and (ids.min() < 0 or (k is not None and ids.max() >= k)):
            raise DataDirError(f"{e.where}: cluster id out of range 0..{(k or 0) - 1}")
        out[e.key] = ids
    return out


def read_info(label_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(label_dir) / INFO
    if not path.is_file():
        raise DataDirError(f"{path}: no such file (written by python -m ssltk.bin.kmeans label)")
    info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not info.get("frame_rate"):
        raise DataDirError(f"{path}: no frame_rate")
    return info


def duration_mismatches(labels: dict[str, np.ndarray], label_rate: float,
                        durations: dict[str, float], tol: float = DURATION_TOL) -> list[str]:
    """Utterances whose label duration ``len / label_rate`` differs from the audio's by
    more than ``tol`` seconds (fairseq warns and skips such utterances)."""
    return [f"{u}: {len(v)} labels at {label_rate:g} Hz = {len(v) / label_rate:.3f} s, "
            f"audio {durations[u]:.3f} s" for u, v in labels.items()
            if u in durations and abs(len(v) / label_rate - durations[u]) > tol]


def align_labels(labels: np.ndarray, label_rate: float, num_frames: int,
                 frame_rate: float) -> np.ndarray:
    """Targets for ``num_frames`` model frames at ``frame_rate`` from labels at ``label_rate``.

    fairseq's HuBERT rule: frame ``i`` takes label ``floor(i * label_rate / frame_rate)``,
    and frames past the last label are dropped (the result may be shorter than
    ``num_frames``).  100 Hz labels on a 50 Hz model keep every second label.
    """
    ratio = label_rate / frame_rate
    usable = min(num_frames, int(len(labels) / ratio))
    return np.asarray(labels)[(np.arange(usable) * ratio).astype(np.int64)]
