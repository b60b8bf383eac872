"""The distortions as plain signal operations on one utterance's valid samples.

Each function takes a 1-D float64 array at ``rate`` Hz and returns a new one; nothing
here draws random numbers (`ssltk.distort.kinds` draws the parameters).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
import torchaudio.functional as AF

from ssltk.data.audio import resample
from ssltk.data.augment import change_speed

NARROWBAND_RATE = 8000
MU_LAW_CHANNELS = 256  # 8-bit, as G.711


def power(x: np.ndarray) -> float:
    """Mean square over all samples (0 for an empty array)."""
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(power(speech) / power(noise))``: the SNR definition used throughout."""
    return 10 * math.log10(power(speech) / power(noise))


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` samples."""
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def loop_segment(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """``n`` samples of ``x`` from ``start``, wrapping around to its beginning as often as needed."""
    return np.take(x, np.arange(start, start + n) % len(x))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``speech + g * noise`` with ``g`` such that ``snr_db(speech, g * noise) == snr`` exactly
    (powers over the utterance's samples, silences included).  ``noise`` has the speech's
    length and is not silent; silent speech comes back unchanged (no SNR is defined)."""
    ps, pn = power(speech), power(noise)
    if ps == 0:
        return speech.copy()
    return speech + noise * math.sqrt(ps / (pn * 10 ** (snr / 10)))


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution (``len(x) + len(h) - 1`` samples) by FFT."""
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n]


def reverberate(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``x`` convolved with the impulse response ``ir``, aligned and levelled to ``x``.

    Alignment: the output starts at ``ir``'s direct path, taken to be its largest
    ``|sample|``, so the delay before it (propagation, a simulator's filter latency) is
    removed; the output has ``len(x)`` samples (the tail past the end is cut).
    Level: scaled to the RMS of ``x``.  A unit impulse, anywhere, gives ``x`` back.
    """
    delay = int(np.argmax(np.abs(ir)))
    y = convolve(x, ir)[delay:delay + len(x)]
    py = power(y)
    return y * math.sqrt(power(x) / py) if py > 0 else y


def band_pass(x: np.ndarray, rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Zero every frequency of ``x`` below ``low_hz`` or above ``high_hz`` (an ideal filter over
    the whole utterance, zero phase)."""
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    spec[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spec, len(x))


def telephone(x: np.ndarray, rate: int, low_hz: float = 300, high_hz: float = 3400,
              narrowband: bool = True, mu_law: bool = True) -> np.ndarray:
    """A telephone channel: optionally down to 8 kHz and back (``narrowband``) with 8-bit
    mu-law coding there (``mu_law``; samples beyond +-1 saturate), then the
    ``low_hz``..``high_hz`` band-pass, last, so the band holds whatever came before."""
    y = x
    if narrowband and rate != NARROWBAND_RATE:
        y = resample(y, rate, NARROWBAND_RATE)
    if mu_law:
        codes = AF.mu_law_encoding(torch.from_numpy(np.clip(y, -1, 1)), MU_LAW_CHANNELS)
        y = AF.mu_law_decoding(codes, MU_LAW_CHANNELS).double().numpy()
    if narrowband and rate != NARROWBAND_RATE:
        y = fit_length(resample(y, NARROWBAND_RATE, rate), len(x))
    return band_pass(y, rate, low_hz, high_hz)


def clip(x: np.ndarray, fraction: float) -> np.ndarray:
    """Hard clipping at ``fraction`` of the utterance's peak."""
    limit = fraction * float(np.max(np.abs(x), initial=0.0))
    return np.clip(x, -limit, limit)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` scaled by ``db`` decibels (no clipping: samples may leave [-1, 1])."""
    return x * 10 ** (db / 20)


def time_stretch(x: np.ndarray, length: int, rate: int) -> np.ndarray:
    """``x`` played in ``length`` samples at the same pitch: WSOLA (Verhelst & Roelands, 1993),
    the time-domain method of SoX's ``tempo``.  Output frames (30 ms Hann windows, half
    overlapping) copy the input segment, within +-10 ms of its nominal place, that best
    continues the previous one (largest cross-correlation), so waveforms stay coherent."""
    size = 2 * round(0.015 * rate)
    hop, tol = size // 2, round(0.010 * rate)
    window = np.hanning(size + 1)[:-1]  # periodic: half-overlapping copies sum to 1
    ratio = len(x) / length
    xp = np.pad(x, (hop + tol, size + 2 * hop + 2 * tol + math.ceil(2 * hop * ratio) + 1))
    y = np.zeros((length // hop + 2) * hop + size)
    prev = None
    for k in range(len(y) // hop - 1):
        nominal = round(k * hop * ratio)  # search region of frame k: its nominal segment +- tol
        if prev is None:
            start = nominal + tol
        else:
            natural = xp[prev + hop:prev + hop + size]  # what would follow the previous segment
            region = xp[nominal:nominal + size + 2 * tol]
            start = nominal + int(np.argmax(np.correlate(region, natural, "valid")))
        y[k * hop:k * hop + size] += window * xp[start:start + size]
        prev = start
    return y[hop:hop + length]


def shift_pitch(x: np.ndarray, semitones: float, rate: int) -> np.ndarray:
    """Pitch moved by ``semitones`` (fractions allowed), duration kept, as SoX's ``pitch``: a
    WSOLA time stretch by the pitch ratio, then `change_speed` by it.  The ratio is
    ``2 ** (semitones / 12)`` rounded to a fraction with denominator <= 100 (as
    `change_speed` does; under 1 cent off), which keeps the resampling fast.  (torchaudio's
    ``pitch_shift`` resamples between rates such as 17959 and 16000 Hz, tens of seconds for
    3 s of audio at +2 semitones on CPU, and its phase vocoder measured 13-66% power losses
    on speech.)"""
    ratio = Fraction(2 ** (semitones / 12)).limit_denominator(100)
    if ratio == 1 or len(x) == 0:
        return x.copy()
    stretched = time_stretch(x, round(len(x) * ratio), rate)
    return fit_length(change_speed(torch.from_numpy(stretched), float(ratio)).numpy(), len(x))


def change_speed_np(x: np.ndarray, factor: float) -> np.ndarray:
    """`ssltk.data.augment.change_speed` on a numpy array: about ``len(x) / factor`` samples."""
    return change_speed(torch.from_numpy(x), factor).numpy()
