"""Reading audio named by ``wav.scp`` entries.

An entry is a file path (anything libsndfile reads: wav, flac, ogg, ...), a
Kaldi pipe ``<command> |`` whose stdout is an audio file, or a kaldiio ark
offset ``file.ark:123``.  Samples come back as mono float32 in [-1, 1]; when a
target rate is given, audio at another rate is resampled with
``torchaudio.functional.resample`` (FSDD's 8 kHz recordings read at 16 kHz),
with a warning shown once per pair of rates.
Multi-channel audio is rejected: select a channel in the entry itself, e.g.
``sox in.wav -t wav - remix 1 |``.
"""

from __future__ import annotations

import io
import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ssltk.errors import UserError

_ARK_OFFSET = re.compile(r".+\.ark:\d+$")


class AudioError(UserError):
    """Audio could not be read; the message names the utterance and its entry."""


@dataclass(frozen=True)
class AudioSpec:
    """Where an utterance's samples are: a wav.scp entry, optionally a segment."""

    utt: str
    entry: str
    start: float = 0.0  # seconds
    end: float | None = None  # seconds; None = to the end

    @property
    def is_pipe(self) -> bool:
        return self.entry.endswith("|")


def _fail(spec: AudioSpec, reason: str) -> AudioError:
    return AudioError(f"utterance '{spec.utt}': {spec.entry}: {reason}")


def _read_raw(spec: AudioSpec) -> tuple[np.ndarray, int]:
    """Decode the whole entry: (samples [T] or [T, C], rate)."""
    entry = spec.entry
    if spec.is_pipe:
        cmd = entry[:-1].strip()
        proc = subprocess.run(cmd, shell=True, capture_output=True)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise _fail(spec, f"command exited with {proc.returncode}: {' / '.join(err)}")
        source = io.BytesIO(proc.stdout)
    elif _ARK_OFFSET.match(entry):
        import kaldiio

        try:
            rate, samples = kaldiio.load_mat(entry)
        except Exception as e:  # kaldiio raises assorted errors for bad arks
            raise _fail(spec, f"cannot read ark entry ({e})") from None
        return _to_float(np.asarray(samples)), int(rate)
    else:
        source = entry
    try:
        samples, rate = sf.read(source, dtype="float32", always_2d=False)
    except FileNotFoundError:
        raise _fail(spec, "audio file not found") from None
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        if not spec.is_pipe and not _exists(entry):
            raise _fail(spec, "audio file not found") from None
        raise _fail(spec, f"unreadable or corrupt audio ({e})") from None
    return samples, rate


def _exists(path: str) -> bool:
    return Path(path).is_file()


def _to_float(samples: np.ndarray) -> np.ndarray:
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    return samples.astype(np.float32, copy=False)


def resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling (torchaudio's sinc interpolation)."""
    if orig_rate == new_rate:
        return samples
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples)), orig_rate, new_rate)
    return out.numpy()


def load_audio(spec: AudioSpec | str, target_rate: int | None = None,
               utt: str = "?") -> tuple[np.ndarray, int]:
    """Read one utterance as mono float32 samples.

    Returns ``(samples [T], rate)`` where rate is ``target_rate`` when given.
    Raises `AudioError` naming the utterance for a missing file, a failing
    pipe, corrupt data, multi-channel audio, or an empty (or empty segment) result.
    """
    if isinstance(spec, str):
        spec = AudioSpec(utt, spec)
    samples, rate = _read_raw(spec)
    if samples.ndim == 2:
        if samples.shape[1] != 1:
            raise _fail(spec, f"has {samples.shape[1]} channels; mono expected "
                              "(pick one in wav.scp, e.g. 'sox in.wav -t wav - remix 1 |')")
        samples = samples[:, 0]
    if spec.start or spec.end is not None:
        first = int(round(spec.start * rate))
        last = len(samples) if spec.end is None else int(round(spec.end * rate))
        if first >= len(samples):
            raise _fail(spec, f"segment starts at {spec.start}s, after the end of the audio "
                              f"({len(samples) / rate:.3f}s)")
        samples = samples[first:last]
    if samples.size == 0:
        raise _fail(spec, "empty audio (0 samples)")
    if target_rate is not None and rate != target_rate:
        # Python shows this once per rate pair, not once per utterance
        warnings.warn(f"audio at {rate} Hz resampled to {target_rate} Hz", stacklevel=2)
        samples, rate = resample(samples, rate, target_rate), target_rate
    return samples, rate


def audio_info(spec: AudioSpec) -> tuple[int, int, int]:
    """``(frames, rate, channels)`` from the header, without decoding (paths only)."""
    try:
        info = sf.info(spec.entry)
    except FileNotFoundError:
        raise _fail(spec, "audio file not found") from None
    except (sf.LibsndfileError, RuntimeError) as e:
        if not _exists(spec.entry):
            raise _fail(spec, "audio file not found") from None
        raise _fail(spec, f"unreadable or corrupt audio ({e})") from None
    return info.frames, info.samplerate, info.channels
