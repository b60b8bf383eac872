"""Frame-level tracks of a data directory: one scalar per frame (log-energy, later pitch).

A track ``NAME`` of ``data/<set>`` is ``NAME.scp`` (kaldiio: one float32 vector per
utterance, written to ``NAME.ark`` beside it) plus ``NAME.yaml`` (``track``, ``frame_rate``,
``window``).  Frame ``j`` covers ``[j / frame_rate, j / frame_rate + window)`` seconds, the
convention of Kaldi's features and of the upstreams' frames (frame ``t`` of a model at rate
``r`` starts at ``t / r``), so a track and a model's frames align by `resample_track`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import kaldiio
import numpy as np
import torch
import yaml

from ssltk.data.datadir import DataDir, DataDirError, write_text_atomic
from ssltk.errors import UserError


def log_energy(wav: np.ndarray, sample_rate: int, frame_rate: float = 100.0,
               window: float = 0.025) -> np.ndarray:
    """``log(mean square + 1e-10)`` of each frame, after removing the frame's mean (float32)."""
    win, hop = round(window * sample_rate), sample_rate / frame_rate
    n = 1 + int((len(wav) - win) // hop) if len(wav) >= win else 0
    starts = (np.arange(n) * hop).round().astype(int)
    frames = np.stack([wav[s:s + win] for s in starts]) if n else np.zeros((0, win))
    frames = frames - frames.mean(axis=1, keepdims=True)
    return np.log((frames ** 2).mean(axis=1) + 1e-10).astype(np.float32)


TRACKS: dict[str, Callable[..., np.ndarray]] = {"log_energy": log_energy}


def write_track(data_dir: str | Path, name: str, frame_rate: float = 100.0, window: float = 0.025,
                sample_rate: int = 16000) -> Path:
    """Compute track ``name`` for every utterance of ``data_dir`` (audio read at
    ``sample_rate``, the rate upstreams see); returns ``NAME.scp``."""
    from ssltk.data.batching import UtteranceDataset

    if name not in TRACKS:
        raise UserError(f"unknown track '{name}' (known: {', '.join(TRACKS)})")
    ddir = DataDir(data_dir)
    audio = UtteranceDataset(ddir, sample_rate)
    scp, ark = ddir.path / f"{name}.scp", ddir.path / f"{name}.ark"
    tmp_scp, tmp_ark = scp.with_suffix(".scp.tmp"), ark.with_suffix(".ark.tmp")
    with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
        for utt in ddir.utt_ids():
            _, wav = audio[utt]
            writer(utt, TRACKS[name](wav.numpy().astype(np.float64), sample_rate, frame_rate, window))
    tmp_ark.replace(ark)
    tmp_scp.write_text(tmp_scp.read_text().replace(str(tmp_ark), str(ark)))
    tmp_scp.replace(scp)
    info = {"track": name, "frame_rate": float(frame_rate), "window": float(window),
            "sample_rate": int(sample_rate)}
    write_text_atomic(ddir.path / f"{name}.yaml", yaml.safe_dump(info, sort_keys=False))
    return scp


def track_rate(data_dir: str | Path, name: str) -> float:
    path = Path(data_dir) / f"{name}.yaml"
    if not path.is_file():
        raise DataDirError(f"{path}: no such file (make the track with python -m "
                           f"ssltk.bin.frame_tracks --track {name} --data {data_dir})")
    return float((yaml.safe_load(path.read_text(encoding="utf-8")) or {})["frame_rate"])


def read_track(path: str | Path) -> dict[str, np.ndarray]:
    """``{utt: float32 vector}`` of a track's (or a prediction's) scp."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: no such file")
    out = {}
    for utt, value in kaldiio.load_scp(str(path)).items():
        try:
            out[utt] = np.asarray(value, dtype=np.float32).reshape(-1)
        except Exception as e:  # noqa: BLE001 - a broken ark is the user's data
            raise DataDirError(f"{path}: cannot read '{utt}' ({e})") from None
    return out


def write_vectors(scp: str | Path, table: dict[str, np.ndarray], frame_rate: float) -> None:
    """A track from given values (predictions): ``scp``, ``.ark`` and ``.yaml`` beside it."""
    scp = Path(scp)
    with kaldiio.WriteHelper(f"ark,scp:{scp.with_suffix('.ark')},{scp}") as writer:
        for utt, value in table.items():
            writer(utt, np.asarray(value, dtype=np.float32))
    info = {"track": scp.stem, "frame_rate": float(frame_rate)}
    write_text_atomic(scp.with_suffix(".yaml"), yaml.safe_dump(info, sort_keys=False))


def resample_track(track: torch.Tensor, track_lens: torch.Tensor, num_frames: int, ratio: float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Values of padded tracks ``[B, S]`` at ``num_frames`` frames of another rate
    (``ratio`` = track rate / frame rate), linearly interpolated; returns ``(values [B, T],
    valid [B, T])`` where ``valid`` marks frames inside their track."""
    pos = torch.arange(num_frames, device=track.device, dtype=torch.float64) * ratio
    last = (track_lens - 1).clamp(min=0).to(torch.float64)[:, None]
    p = torch.minimum(pos[None, :].expand(len(track), -1), last)
    lo = p.floor().long()
    hi = torch.minimum(lo + 1, last.long())
    w = (p - lo).to(track.dtype)
    values = (1 - w) * track.gather(1, lo) + w * track.gather(1, hi)
    valid = (pos[None, :] <= last) & (track_lens[:, None] > 0)
    return values, valid
