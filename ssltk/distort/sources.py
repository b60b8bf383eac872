"""Where distortions get their material: noise and impulse-response files, other
utterances (babble), simulated rooms.

Files are checked when a source is built, before any audio is distorted: a missing,
unreadable, empty or multi-channel file is a `UserError` naming it (never skipped).  A file
at another sample rate is resampled (torchaudio's sinc interpolation) with a warning
naming it, as `ssltk.data.audio.load_audio` does for utterances.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import soundfile as sf

from ssltk.data.audio import load_audio, resample
from ssltk.data.datadir import DataDir, sort_key
from ssltk.distort.dsp import loop_segment
from ssltk.errors import UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".sph")
ROOM_MARGIN = 0.5  # metres kept between the walls and the source or microphone
RAY_COUNT = 2000  # rays of pyroomacoustics' ray tracer per room (~0.05-0.3 s a room)


def expand_audio_paths(paths: Sequence[str], what: str) -> list[Path]:
    """Files and directories (searched recursively for ``AUDIO_SUFFIXES``) -> audio files."""
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                raise UserError(f"{what}s: {path}: directory holds no audio files "
                                f"({', '.join(AUDIO_SUFFIXES)})")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{what} {path}: no such file or directory")
    if not files:
        raise UserError(f"no {what}s given")
    return files


class AudioFiles:
    """Mono recordings (noise, impulse responses) read at ``rate`` Hz."""

    def __init__(self, paths: Sequence[str], rate: int, what: str = "noise file"):
        self.rate, self.what = rate, what
        self.files = expand_audio_paths(paths, what)
        self.native_rates: list[int] = []
        self.lengths: list[int] = []  # samples at `rate`
        for path in self.files:
            try:
                info = sf.info(str(path))
            except (sf.LibsndfileError, RuntimeError, OSError) as e:
                raise UserError(f"{what} {path}: unreadable or not audio ({e})") from None
            if info.channels != 1:
                raise UserError(f"{what} {path}: has {info.channels} channels; mono expected "
                                "(keep one, e.g. 'sox in.wav out.wav remix 1')")
            if info.frames == 0:
                raise UserError(f"{what} {path}: empty (0 samples)")
            if info.samplerate != rate:
                warnings.warn(f"{what} {path}: {info.samplerate} Hz, resampled to {rate} Hz", stacklevel=2)
            self.native_rates.append(info.samplerate)
            self.lengths.append(max(1, round(info.frames * rate / info.samplerate)))

    def __len__(self) -> int:
        return len(self.files)

    def read(self, index: int) -> np.ndarray:
        """The whole of file ``index`` at ``rate`` (cached)."""
        return _read_whole(str(self.files[index]), self.rate, self.what)

    def segment(self, index: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples of file ``index`` from a random start, looping the file if it is short."""
        length = self.lengths[index]
        start = int(rng.integers(length))
        if length <= n or self.native_rates[index] != self.rate:
            return loop_segment(self.read(index), start, n)
        path = self.files[index]
        try:
            with sf.SoundFile(str(path)) as f:
                f.seek(start)
                head = f.read(min(n, length - start), dtype="float64")
                if len(head) < n:
                    f.seek(0)
                    head = np.concatenate([head, f.read(n - len(head), dtype="float64")])
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise UserError(f"{self.what} {path}: cannot read samples {start}..{start + n} ({e})") from None
        if len(head) != n:
            raise UserError(f"{self.what} {path}: shorter than its header says")
        return head


@functools.lru_cache(maxsize=64)
def _read_whole(path: str, rate: int, what: str) -> np.ndarray:
    try:
        samples, native = sf.read(path, dtype="float64")
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise UserError(f"{what} {path}: unreadable or corrupt audio ({e})") from None
    samples = resample(samples, native, rate)
    samples.setflags(write=False)
    return samples


class BabblePool:
    """Utterances to make babble from, by id: arrays in memory (a batch) or a data dir's."""

    def __init__(self, ids: Sequence[str], get: Callable[[str], np.ndarray], where: str):
        self.ids = sorted(ids, key=sort_key)  # any given order gives the same draws
        self.get = get
        self.where = where

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> BabblePool:
        return cls(list(arrays), lambda utt: arrays[utt], "the batch")

    @classmethod
    def from_data_dir(cls, path: str | Path, rate: int) -> BabblePool:
        specs = DataDir(path).audio_specs()
        return cls(list(specs), lambda utt: load_audio(specs[utt], rate)[0].astype(np.float64), str(path))


def check_room_simulator() -> None:
    """Raise a `UserError` saying how to get pyroomacoustics when it is not installed."""
    if importlib.util.find_spec("pyroomacoustics") is None:
        raise UserError("reverb: simulated rooms need pyroomacoustics (make -C tools installs the pinned "
                        "version, see tools/requirements.txt); or give impulse-response files")


@functools.lru_cache(maxsize=256)
def simulated_rir(seed: int, index: int, rate: int, rt60: tuple[float, float],
                  room: tuple[tuple[float, float], ...], distance: tuple[float, float]) -> np.ndarray:
    """Impulse response of room ``index`` of the bank named by ``seed`` (cached).

    The room's size, RT60, microphone position and source direction and distance are drawn
    uniformly from the ranges by a generator seeded with ``(seed, index)``; pyroomacoustics
    simulates it (a shoebox: image sources to order 3 plus ray tracing for the tail, walls
    from Sabine's formula for the RT60, no air absorption).  Its ray tracer draws from the
    library's own package-wide generator, which is reseeded from our generator first, so a
    room is the same in every process.
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, index])
    for _ in range(100):
        dims = [float(rng.uniform(lo, hi)) for lo, hi in room]
        t60 = float(rng.uniform(*rt60))
        try:
            absorption, _ = pra.inverse_sabine(t60, dims)
            break
        except ValueError:  # the RT60 is too short for a room this large
            continue
    else:
        raise UserError(f"reverb: rooms of {list(room)} m cannot have an RT60 as short as {list(rt60)} s; "
                        "use smaller rooms or a longer rt60")
    mic, source = _positions(rng, dims, distance)
    ray_seed = int(rng.integers(2**63))
    pra.random.seed(numpy=ray_seed, libroom=ray_seed)
    sim = pra.ShoeBox(dims, fs=rate, materials=pra.Material(absorption), max_order=3, ray_tracing=True,
                      air_absorption=False)
    sim.set_ray_tracing(receiver_radius=0.5, n_rays=RAY_COUNT, energy_thres=1e-5)
    sim.add_source(source.tolist())
    sim.add_microphone(mic.tolist())
    sim.compute_rir()
    rir = np.asarray(sim.rir[0][0], dtype=np.float64)
    rir.setflags(write=False)
    return rir


def _positions(rng: np.random.Generator, dims: list[float],
               distance: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A microphone and a source at the drawn distance, both ``ROOM_MARGIN`` inside the walls
    (the distance shrinks if it does not fit the room)."""
    low, high = np.full(3, ROOM_MARGIN), np.asarray(dims) - ROOM_MARGIN
    for attempt in range(1000):
        mic = rng.uniform(low, high)
        direction = rng.standard_normal(3)
        source = mic + rng.uniform(*distance) * 0.9 ** (attempt // 50) * direction / np.linalg.norm(direction)
        if np.all(source >= low) and np.all(source <= high):
            return mic, source
    return mic, np.clip(source, low, high)
