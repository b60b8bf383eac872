"""Frame-level tracks of a data directory: one scalar per frame (log-energy, voicing, log-F0).

A track ``NAME`` of ``data/<set>`` is ``NAME.scp`` (kaldiio: one float32 vector per
utterance, written to ``NAME.ark`` beside it) plus ``NAME.yaml`` (``track``, ``frame_rate``,
``window``).  Frame ``j`` covers ``[j / frame_rate, j / frame_rate + window)`` seconds, the
convention of Kaldi's features and of the upstreams' frames (frame ``t`` of a model at rate
``r`` starts at ``t / r``), so a track and a model's frames align by `resample_track`.

`TRACKS` names what ``python -m ssltk.bin.frame_tracks --track NAME`` computes.  A track
function returns one vector (the track ``NAME``) or, when one analysis gives several tracks,
``{track name: vector}``: ``pitch`` writes two tracks, ``vuv`` and ``log_f0`` (their names
are accepted as ``--track`` too, see `OUTPUTS`).

Pitch.  ``vuv`` is 1 on voiced frames and 0 on unvoiced ones; ``log_f0`` is the natural log
of F0 in Hz on voiced frames, and on unvoiced frames the log-F0 interpolated linearly between
the voiced frames around them (held constant before the first and after the last voiced
frame; 0 in an utterance without voiced frames): a fill that keeps the track continuous (no
jumps to a constant), for whoever uses it unmasked.  Probes of ``log_f0`` mask the unvoiced
frames out with ``vuv`` (``frame_reg.mask: vuv``), and then no fill value reaches the loss.
F0 is the value at the frame's centre, ``j / frame_rate + window / 2``.

The tracker is pYIN (M. Mauch and S. Dixon, "pYIN: a fundamental frequency estimator using
probabilistic threshold distributions", ICASSP 2014) as ``librosa.pyin`` implements it
(librosa: maintained, and already in the environment), searching 50-600 Hz on 64 ms frames,
with its HMM's voicing decision plus a silence gate (`pyin_f0`).  It was chosen by measurement
(``bench/pitch_trackers.py``; bench/RESULTS.md) against WORLD's Harvest (M. Morise, "Harvest:
a high-performance fundamental frequency estimator from speech signals", Interspeech 2017)
and DIO + StoneMask through ``pyworld``, and torchaudio's NCCF ``detect_pitch_frequency``,
on harmonic signals of known gliding F0 with noise stretches, and on monotone espeak-ng
speech (pitch range 0) of a known, nearly constant F0.  On the speech, pYIN made no gross
error in two draws of 24 utterances (GPE 0.00%, fine error 12-13 cents, V/UV error 4.3-7.3%)
where Harvest made octave errors (GPE 0.25% and 6.3%, V/UV 6.9-10.2%) and DIO a few (GPE
0.04-0.05%, V/UV 7.4%).  On the synthetic signals (clean, and at 10 dB SNR) Harvest's V/UV
error was 9-10% (it extends voiced stretches by up to 0.1 s), DIO was the most exact (GPE 0,
V/UV 0.2-0.9%), and pYIN had V/UV errors of 0.6-4.7% and, in one fast glide of one draw,
locked onto a formant (GPE 0-0.8%).  torchaudio's tracker has no voicing decision and
13-32% gross errors.  DIO is 40 times faster (pYIN: about 0.4 s per second of audio on one
core), the choice if speed matters more than octave errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import kaldiio
import numpy as np
import torch
import yaml

from ssltk.data.datadir import DataDir, DataDirError, write_text_atomic
from ssltk.errors import UserError


def num_frames(num_samples: int, sample_rate: int, frame_rate: float = 100.0, window: float = 0.025) -> int:
    """Frames of a signal: every whole ``window`` starting at ``j / frame_rate`` (Kaldi's
    ``snip_edges``)."""
    win, hop = round(window * sample_rate), sample_rate / frame_rate
    return 1 + int((num_samples - win) // hop) if num_samples >= win else 0


def log_energy(wav: np.ndarray, sample_rate: int, frame_rate: float = 100.0,
               window: float = 0.025) -> np.ndarray:
    """``log(mean square + 1e-10)`` of each frame, after removing the frame's mean (float32)."""
    win, hop = round(window * sample_rate), sample_rate / frame_rate
    n = num_frames(len(wav), sample_rate, frame_rate, window)
    starts = (np.arange(n) * hop).round().astype(int)
    frames = np.stack([wav[s:s + win] for s in starts]) if n else np.zeros((0, win))
    frames = frames - frames.mean(axis=1, keepdims=True)
    return np.log((frames ** 2).mean(axis=1) + 1e-10).astype(np.float32)


F0_FLOOR, F0_CEIL = 50.0, 600.0  # Hz: the pitch search range (speech of men, women, children)
PYIN_FRAME = 0.064  # seconds analysed per pYIN frame (1024 samples at 16 kHz: >= 2 periods at 50 Hz)
SILENCE_DB = 40.0  # frames this far below the utterance's loudest frame are unvoiced (Praat: 30)


def pyin_f0(wav: np.ndarray, sample_rate: int, frame_rate: float = 100.0, window: float = 0.025,
            f0_floor: float = F0_FLOOR, f0_ceil: float = F0_CEIL,
            silence_db: float | None = SILENCE_DB) -> np.ndarray:
    """F0 in Hz at the centre of each frame (`num_frames` of them), 0 on unvoiced frames:
    pYIN (Mauch and Dixon 2014) as ``librosa.pyin`` implements it, voicing from its HMM.

    ``silence_db``: frames whose energy (`log_energy`) is more than this many dB below the
    utterance's loudest frame are unvoiced.  pYIN's HMM can otherwise hold a voiced state
    through near-silence: there its voiced observation, concentrated on one pitch bin,
    outweighs the unvoiced one, spread over all bins (measured on bench/pitch_trackers.py's
    signals: a -60 dB noise floor voiced for up to 0.1 s).  Praat's pitch tracker has such a
    "silence threshold" too (by default 0.03 of the peak amplitude, 30 dB); voiced frames of
    the espeak-ng speech lie at most 32 dB below their utterance's loudest.  ``None``: no gate.
    """
    try:
        import librosa
    except ImportError:
        raise UserError("the pitch track needs librosa: pip install librosa "
                        "(ssltk's 'prosody' extra)") from None
    hop = sample_rate / frame_rate
    if hop != round(hop):
        raise UserError(f"the pitch track needs a frame hop of whole samples; sample rate {sample_rate} "
                        f"/ frame rate {frame_rate:g} = {hop:g}")
    n = num_frames(len(wav), sample_rate, frame_rate, window)
    if n == 0:
        return np.zeros(0, np.float64)
    # librosa's frame k is centred on sample k * hop: starting the signal half a window
    # later centres it on our frame k
    x = np.ascontiguousarray(wav[round(window * sample_rate / 2):], dtype=np.float64)
    f0, voiced, _ = librosa.pyin(x, fmin=f0_floor, fmax=f0_ceil, sr=sample_rate,
                                 frame_length=round(PYIN_FRAME * sample_rate), hop_length=round(hop),
                                 center=True)
    f0 = np.pad(np.where(voiced, np.nan_to_num(f0), 0.0)[:n], (0, max(0, n - len(f0))))
    if silence_db is not None:
        energy = log_energy(wav, sample_rate, frame_rate, window)
        f0[energy < energy.max() - silence_db * math.log(10) / 10] = 0.0
    return f0


def fill_unvoiced(log_f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """``log_f0`` with its unvoiced frames interpolated linearly between the voiced ones
    (held at the ends; all 0 without a voiced frame); see the module docstring."""
    out = np.zeros(len(log_f0), np.float64)
    idx = np.flatnonzero(voiced)
    if len(idx):
        out[:] = np.interp(np.arange(len(log_f0)), idx, np.asarray(log_f0, np.float64)[idx])
    return out


def pitch(wav: np.ndarray, sample_rate: int, frame_rate: float = 100.0,
          window: float = 0.025) -> dict[str, np.ndarray]:
    """``{"vuv": 1 voiced / 0 unvoiced, "log_f0": log Hz}`` per frame (float32), from
    `pyin_f0`; unvoiced frames' ``log_f0`` by `fill_unvoiced`."""
    f0 = pyin_f0(wav, sample_rate, frame_rate, window)
    voiced = f0 > 0
    log_f0 = np.log(np.where(voiced, f0, 1.0))
    return {"vuv": voiced.astype(np.float32), "log_f0": fill_unvoiced(log_f0, voiced).astype(np.float32)}


TRACKS: dict[str, Callable[..., np.ndarray | dict[str, np.ndarray]]] = {
    "log_energy": log_energy,
    "pitch": pitch,
}
# the tracks each entry of TRACKS writes, when they are not just the entry's own name
OUTPUTS: dict[str, tuple[str, ...]] = {"pitch": ("vuv", "log_f0")}
# what the tracks' .yaml files record about their analysis, besides frame rate and window
SETTINGS: dict[str, dict] = {"pitch": {"tracker": "pyin", "f0_floor": F0_FLOOR, "f0_ceil": F0_CEIL,
                                       "pyin_frame": PYIN_FRAME, "silence_db": SILENCE_DB}}


def track_source(name: str) -> str:
    """The entry of `TRACKS` that writes track ``name`` (``log_f0`` -> ``pitch``)."""
    if name in TRACKS:
        return name
    for source, outputs in OUTPUTS.items():
        if name in outputs:
            return source
    known = sorted({*TRACKS, *(o for outs in OUTPUTS.values() for o in outs)})
    raise UserError(f"unknown track '{name}' (known: {', '.join(known)})")


def write_tracks(data_dir: str | Path, name: str, frame_rate: float = 100.0, window: float = 0.025,
                 sample_rate: int = 16000) -> dict[str, Path]:
    """Compute ``name`` (an entry of `TRACKS`, or a track one of them writes) for every
    utterance of ``data_dir`` (audio read at ``sample_rate``, the rate upstreams see) and
    write each of its tracks; returns ``{track: NAME.scp}``.  Files appear whole or not at
    all (written beside, then renamed)."""
    from ssltk.data.batching import UtteranceDataset

    source = track_source(name)
    outputs = OUTPUTS.get(source, (source,))
    ddir = DataDir(data_dir)
    audio = UtteranceDataset(ddir, sample_rate)
    tmp = {o: (ddir.path / f"{o}.ark.tmp", ddir.path / f"{o}.scp.tmp") for o in outputs}
    writers = {o: kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") for o, (ark, scp) in tmp.items()}
    try:
        for utt in ddir.utt_ids():
            _, wav = audio[utt]
            values = TRACKS[source](wav.numpy().astype(np.float64), sample_rate, frame_rate, window)
            if not isinstance(values, dict):
                values = {source: values}
            for o in outputs:
                writers[o](utt, np.asarray(values[o], dtype=np.float32))
    finally:
        for writer in writers.values():
            writer.close()
    info = {"frame_rate": float(frame_rate), "window": float(window), "sample_rate": int(sample_rate),
            **SETTINGS.get(source, {})}
    paths = {}
    for o, (tmp_ark, tmp_scp) in tmp.items():
        ark, scp = ddir.path / f"{o}.ark", ddir.path / f"{o}.scp"
        tmp_ark.replace(ark)
        tmp_scp.write_text(tmp_scp.read_text().replace(str(tmp_ark), str(ark)))
        tmp_scp.replace(scp)
        meta = {"track": o, **info, **({"made_by": source} if o != source else {})}
        write_text_atomic(ddir.path / f"{o}.yaml", yaml.safe_dump(meta, sort_keys=False))
        paths[o] = scp
    return paths


def write_track(data_dir: str | Path, name: str, frame_rate: float = 100.0, window: float = 0.025,
                sample_rate: int = 16000) -> Path:
    """`write_tracks`, returning the scp of track ``name`` (of the first track it writes when
    ``name`` is an entry of `TRACKS` with several, such as ``pitch``)."""
    paths = write_tracks(data_dir, name, frame_rate, window, sample_rate)
    return paths.get(name, next(iter(paths.values())))


def track_rate(data_dir: str | Path, name: str) -> float:
    path = Path(data_dir) / f"{name}.yaml"
    if not path.is_file():
        raise DataDirError(f"{path}: no such file (make the track with python -m "
                           f"ssltk.bin.frame_tracks --track {_source_or(name)} --data {data_dir})")
    return float((yaml.safe_load(path.read_text(encoding="utf-8")) or {})["frame_rate"])


def _source_or(name: str) -> str:
    try:
        return track_source(name)
    except UserError:
        return name


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
