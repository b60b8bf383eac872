"""Energy-based voice activity detection, for silence removal before unsupervised ASR.

wav2vec-U removes silences (with rVAD) from training and evaluation audio, so that the
generator sees speech only and ``<SIL>`` tokens come from the text side.  This detector
follows rVAD-fast's idea in a simpler form: frame log-energies (25 ms windows, 10 ms
hop); a per-utterance noise floor (a low percentile) and speech level (a high
percentile); frames above ``floor + threshold * (level - floor)`` are speech; gaps
shorter than ``min_silence`` are bridged, runs shorter than ``min_speech`` dropped, and
``padding`` seconds kept around each run.  An utterance without enough contrast
(``level - floor < min_range_db``: all speech or all silence) is kept whole.
`remove_silence` applies it to a data dir (``ssltk.bin.remove_silence``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from ssltk.data.datadir import DataDir, DataDirError, read_entries, write_json, write_table

# tables that the new timing invalidates, or that remove_silence writes itself
DROPPED = {"wav.scp", "segments", "utt2dur", "utt2num_frames", "reco2dur", "vad_intervals",
           "vad_info.json"}


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


def _trim(job) -> tuple[str, list[tuple[int, int]], int, float, float]:
    """Write the voiced parts of one utterance (unless ``reuse`` and the file exists);
    returns ``(utt, intervals, rate, seconds in, seconds out)``."""
    import soundfile as sf

    from ssltk.data.audio import load_audio

    utt, spec, path, cfg, reuse = job
    samples, rate = load_audio(spec, utt=utt)
    intervals = voiced_intervals(samples, rate, cfg)
    kept = np.concatenate([samples[s:e] for s, e in intervals])
    path = Path(path)
    if not reuse or not path.is_file():
        tmp = path.with_name(path.name + ".tmp.wav")
        sf.write(tmp, kept, rate, subtype="PCM_16")
        tmp.replace(path)
    return utt, intervals, rate, len(samples) / rate, len(kept) / rate


def remove_silence(data: str | Path, out: str | Path, wav_dir: str | Path,
                   cfg: VadConfig | None = None, nj: int = 1) -> dict:
    """Silence-free copy of data dir ``data``: 16-bit wav files of the voiced parts under
    ``wav_dir``, and data dir ``out`` pointing at them with the other utterance tables
    copied (minus `DROPPED` and ``*.ctm``), a new ``utt2dur``, ``vad_intervals`` (kept
    parts in original seconds) and ``vad_info.json`` (the returned summary).  Wav files
    of an earlier run with the same settings are reused."""
    from ssltk.data.validate import validate_data_dir

    cfg = cfg or VadConfig()
    src, out = DataDir(data), Path(out)
    wav_dir = Path(wav_dir).resolve()
    wav_dir.mkdir(parents=True, exist_ok=True)
    old = out / "vad_info.json"
    reuse = old.is_file() and json.loads(old.read_text(encoding="utf-8")).get("vad") == \
        dataclasses.asdict(cfg)
    jobs = [(utt, spec, str(wav_dir / f"{utt}.wav"), cfg, reuse) for utt, spec in src.audio_specs().items()]
    if nj > 1:
        with Pool(nj) as pool:
            results = pool.map(_trim, jobs, chunksize=8)
    else:
        results = [_trim(j) for j in jobs]

    out.mkdir(parents=True, exist_ok=True)
    for name in src.utt_tables() + ["spk2utt", "spk2gender"]:
        if name not in DROPPED and not name.endswith(".ctm") and src.has(name):
            shutil.copyfile(src.path / name, out / name)
    write_table(out / "wav.scp", {u: str(wav_dir / f"{u}.wav") for u, *_ in results})
    write_table(out / "utt2dur", {u: f"{kept:.3f}" for u, _, _, _, kept in results})
    write_table(out / "vad_intervals", {u: format_intervals(iv, rate) for u, iv, rate, _, _ in results})
    seconds_in = sum(r[3] for r in results)
    seconds_out = sum(r[4] for r in results)
    whole = sorted(u for u, iv, rate, dur, _ in results if len(iv) == 1 and iv[0][0] == 0
                   and abs(iv[0][1] / rate - dur) < 1e-6)
    info = {"utterances": len(results), "seconds_in": round(seconds_in, 3),
            "seconds_out": round(seconds_out, 3),
            "kept_fraction": round(seconds_out / max(seconds_in, 1e-9), 4),
            "kept_whole": len(whole), "kept_whole_examples": whole[:10], "vad": dataclasses.asdict(cfg)}
    problems = validate_data_dir(out, audio="header")
    if problems:
        raise DataDirError(f"{out}: the written data dir is invalid: {problems[0]}")
    write_json(out / "vad_info.json", info)
    return info
