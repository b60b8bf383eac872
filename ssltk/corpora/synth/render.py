"""Turn planned utterances into 16 kHz WAV files and phone alignments.

An utterance is one or more segments (text in one language), spoken by one
pseudo-speaker, joined by short pauses, with silence before and after.  All
randomness (pauses, lead/trail silence, noise, espeak's noise generator) comes
from the utterance's own seed, so a file does not depend on which process made
it or in which order.  Resampling runs on one thread for the same reason.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ssltk.corpora.synth.espeak import NATIVE_RATE, SILENCE, Voice, open_engine

RATE = 16000
LEAD_SILENCE = (0.10, 0.30)  # seconds, drawn per utterance
TRAIL_SILENCE = (0.10, 0.30)
SWITCH_PAUSE = (0.05, 0.15)  # between segments (language switch points)
PEAK = 0.95  # louder utterances are scaled down to this peak


@dataclass(frozen=True)
class Segment:
    """Text spoken with one espeak voice (one language)."""

    text: str
    voice: Voice


@dataclass(frozen=True)
class Job:
    """One utterance to render; ``wav`` None means phones only (no audio written)."""

    utt: str
    segments: tuple[Segment, ...]
    seed: int
    wav: str | None = None
    noise_snr: float | None = None


@dataclass
class Result:
    """What rendering gave: phones of each word, timed phones, duration, level."""

    utt: str
    words: list[list[str]]
    phones: list[tuple[str, float, float]] | None  # (label, start s, end s); None: no timings
    duration: float = 0.0
    rms: float = 0.0


_resamplers: dict = {}


def to_16k(samples: np.ndarray) -> np.ndarray:
    """espeak's 22.05 kHz float samples -> 16 kHz (torchaudio's sinc resampler)."""
    import torch
    import torchaudio

    if "r" not in _resamplers:
        _resamplers["r"] = torchaudio.transforms.Resample(NATIVE_RATE, RATE)
    with torch.no_grad():
        return _resamplers["r"](torch.from_numpy(samples)).numpy()


def add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise at ``snr_db`` below the active speech level.

    The speech level is the mean power of the 20 ms frames within 30 dB of the
    loudest one, so leading/trailing silence does not lower it.
    """
    frame = RATE // 50
    n = len(samples) // frame * frame
    power = (samples[:n].astype(np.float64) ** 2).reshape(-1, frame).mean(axis=1)
    active = power[power > power.max() * 1e-3]
    level = active.mean() if active.size else 0.0
    noise = rng.standard_normal(len(samples)) * np.sqrt(level / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


def render(engine, job: Job, root: Path | None = None) -> Result:
    """Speak ``job``; write its WAV under ``root`` when it has one.

    Run it under `single_thread` (as `render_all` does) for files that do not
    depend on torch's thread count.
    """
    rng = np.random.default_rng(job.seed)
    pieces: list[np.ndarray] = []
    phones: list[list] = []  # [label, start, end] in native samples
    words: list[list[str]] = []
    offset = 0

    def silence(seconds: float):
        nonlocal offset
        n = int(round(seconds * NATIVE_RATE))
        pieces.append(np.zeros(n, np.float32))
        phones.append([SILENCE, offset, offset + n])
        offset += n

    with_audio = job.wav is not None
    if with_audio:
        silence(rng.uniform(*LEAD_SILENCE))
    timed = True
    for k, seg in enumerate(job.segments):
        if k and with_audio:
            silence(rng.uniform(*SWITCH_PAUSE))
        out = engine.synthesize(seg.text, seg.voice, seed=int(rng.integers(1, 2**31 - 1)))
        words.extend(out.words)
        pieces.append(out.samples.astype(np.float32) / 32768.0)
        if out.phones is None:
            timed = False
        else:
            phones.extend([p.label, p.start + offset, p.end + offset] for p in out.phones)
        offset += len(out.samples)
    if not with_audio:
        return Result(job.utt, words, None)
    silence(rng.uniform(*TRAIL_SILENCE))

    audio = to_16k(np.concatenate(pieces))
    if job.noise_snr is not None:
        audio = add_noise(audio, job.noise_snr, rng)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > PEAK:  # scale down rather than clip
        audio = audio * (PEAK / peak)
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    path = Path(root or ".") / job.wav
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, pcm, RATE, subtype="PCM_16", format="WAV")
    duration = len(pcm) / RATE
    rms = float(np.sqrt(np.mean((pcm / 32768.0) ** 2)))
    return Result(job.utt, words, _seconds(phones, duration) if timed else None, duration, rms)


def _seconds(phones: list[list], duration: float) -> list[tuple[str, float, float]]:
    """Native-rate sample spans -> merged (label, start, end) in seconds."""
    merged: list[list] = []
    for label, start, end in phones:
        if end <= start:
            continue
        if merged and label == SILENCE and merged[-1][0] == SILENCE:
            merged[-1][2] = end
        else:
            merged.append([label, start, end])
    out = [(label, round(s / NATIVE_RATE, 3), round(e / NATIVE_RATE, 3)) for label, s, e in merged]
    if out:  # the resampled file may be a sample shorter or longer
        out[-1] = (out[-1][0], out[-1][1], round(duration, 3))
    return out


@contextlib.contextmanager
def single_thread():
    """Run torch on one thread (results must not depend on the thread count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------
# running many jobs

_worker: dict = {}


def _init_worker(engine_kind: str, root: str) -> None:
    import torch

    torch.set_num_threads(1)
    _worker["engine"] = open_engine(engine_kind)
    _worker["root"] = Path(root)


def _run_one(job: Job) -> Result:
    return render(_worker["engine"], job, _worker["root"])


def render_all(jobs: list[Job], root: Path, nj: int = 1, engine: str = "auto",
               progress=None) -> list[Result]:
    """Render ``jobs`` with ``nj`` processes; results come back in job order."""
    results: list[Result] = []
    if nj <= 1:
        eng = open_engine(engine)
        with single_thread():
            for job in jobs:
                results.append(render(eng, job, root))
                if progress:
                    progress(len(results))
        return results
    open_engine(engine).synthesize("a", Voice("en"))  # fail early, and make the library copy
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(nj, initializer=_init_worker, initargs=(engine, str(root))) as pool:
        for result in pool.imap(_run_one, jobs, chunksize=8):
            results.append(result)
            if progress:
                progress(len(results))
    return results


def default_jobs() -> int:
    """Processes to use by default: the CPUs this process may run on, at most 4."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:
        return max(1, min(4, os.cpu_count() or 1))
