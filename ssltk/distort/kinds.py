"""The registry of distortion kinds: name -> parameters (with defaults) and how to apply them.

A kind's ``make(params, rate, seed)`` reads what it needs once (noise files are checked
then) and returns ``apply(x, rng, utt, pool) -> y``: ``x`` the utterance's valid samples
(float64), ``rng`` its own generator (see `ssltk.distort.apply.utterance_rng`), ``pool``
the utterances babble may be made of (a batch, a data dir) or None.  A parameter given as
``[low, high]`` is drawn uniformly per utterance; a number is used as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ssltk.distort import dsp
from ssltk.distort.sources import AudioFiles, BabblePool, check_room_simulator, simulated_rir
from ssltk.errors import UserError

REQUIRED = "<required>"  # the default of a parameter that has none

Apply = Callable[[np.ndarray, np.random.Generator, str, "BabblePool | None"], np.ndarray]


@dataclass(frozen=True)
class Kind:
    name: str
    help: str
    params: dict[str, Any]  # parameter -> default (REQUIRED: must be given)
    make: Callable[[dict, int, int], Apply]
    keeps_length: bool = True
    exclusive: tuple[str, ...] = ()  # the first of these given with any other: an error


KINDS: dict[str, Kind] = {}


def register(name: str, help: str, keeps_length: bool = True, exclusive: tuple[str, ...] = (), **params):
    """Decorate ``make(params, rate, seed) -> apply`` to register kind ``name``."""
    def decorate(make):
        KINDS[name] = Kind(name, help, params, make, keeps_length, exclusive)
        return make
    return decorate


def draw(value: float | list[float], rng: np.random.Generator) -> float:
    """``value``, or a number drawn uniformly from ``[low, high]``."""
    return float(rng.uniform(value[0], value[1])) if isinstance(value, (list, tuple)) else float(value)


def draw_int(value: int | list[int], rng: np.random.Generator) -> int:
    """``value``, or an integer drawn uniformly from ``low..high``."""
    return int(rng.integers(value[0], value[1] + 1)) if isinstance(value, (list, tuple)) else int(value)


def as_range(value: float | list[float]) -> tuple[float, float]:
    return (float(value[0]), float(value[1])) if isinstance(value, (list, tuple)) else (float(value),) * 2


def as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


@register("clean", "no distortion: the utterance as it is")
def _clean(p: dict, rate: int, seed: int) -> Apply:
    return lambda x, rng, utt, pool: x.copy()


@register("noise", "noise recordings (files or directories; a random segment, looped if short) "
          "added at snr dB", snr=[0, 20], files=REQUIRED)
def _noise(p: dict, rate: int, seed: int) -> Apply:
    noises = AudioFiles(as_list(p["files"]), rate, "noise file")

    def apply(x, rng, utt, pool):
        snr = draw(p["snr"], rng)
        index = int(rng.integers(len(noises)))
        for _ in range(10):
            noise = noises.segment(index, len(x), rng)
            if dsp.power(x) == 0:
                return x.copy()
            if dsp.power(noise) > 0:
                return dsp.mix_at_snr(x, noise, snr)
        raise UserError(f"noise file {noises.files[index]}: digital silence at 10 random places "
                        f"(utterance '{utt}'); trim it or leave it out")
    return apply


@register("babble", "a sum of talkers other utterances (each at equal power; from data_dir, else from "
          "the batch or the data dir being distorted) added at snr dB",
          snr=[0, 20], talkers=[3, 7], data_dir=None)
def _babble(p: dict, rate: int, seed: int) -> Apply:
    own = BabblePool.from_data_dir(p["data_dir"], rate) if p["data_dir"] else None

    def apply(x, rng, utt, pool):
        pool = own or pool
        if pool is None:
            raise UserError("babble: no utterances to make babble from here; set its data_dir")
        snr, talkers = draw(p["snr"], rng), draw_int(p["talkers"], rng)
        others = [u for u in pool.ids if u != utt]
        if not others:
            raise UserError(f"babble for utterance '{utt}': {pool.where} holds no other utterance "
                            "(a batch of one?); set the babble data_dir")
        babble = np.zeros(len(x))
        for i in rng.choice(len(others), size=min(talkers, len(others)), replace=False):
            talker = pool.get(others[i])
            segment = dsp.loop_segment(talker, int(rng.integers(len(talker))), len(x))
            if dsp.power(segment) > 0:
                babble += segment / math.sqrt(dsp.power(segment))
        if dsp.power(x) == 0:
            return x.copy()
        if dsp.power(babble) == 0:
            raise UserError(f"babble for utterance '{utt}': the talkers drawn from {pool.where} are silent")
        return dsp.mix_at_snr(x, babble, snr)
    return apply


@register("reverb", "convolution with an impulse response: real ones (files) or a bank of rooms "
          "simulated with pyroomacoustics (rt60 s, room m x m x m, distance m between source and "
          "microphone); aligned on the direct path, same length and RMS as the input",
          exclusive=("files", "rt60", "room", "distance", "rooms"),
          files=None, rt60=[0.2, 0.8], room=[[3, 10], [3, 10], [2.5, 4]], distance=[0.5, 3], rooms=200)
def _reverb(p: dict, rate: int, seed: int) -> Apply:
    irs = AudioFiles(as_list(p["files"]), rate, "impulse response") if p["files"] else None
    if irs is None:
        check_room_simulator()
    bank = dict(rate=rate, rt60=as_range(p["rt60"]), room=tuple(as_range(r) for r in p["room"]),
                distance=as_range(p["distance"]))

    def apply(x, rng, utt, pool):
        if irs is not None:
            index = int(rng.integers(len(irs)))
            ir = irs.read(index)
            if not np.any(ir):
                raise UserError(f"impulse response {irs.files[index]}: all samples are zero")
        else:
            ir = simulated_rir(seed, int(rng.integers(p["rooms"])), **bank)
        return dsp.reverberate(x, ir)
    return apply


@register("telephone", "telephone channel: 8 kHz round trip (narrowband), 8-bit mu-law (mu_law), "
          "then a low_hz..high_hz band-pass", low_hz=300.0, high_hz=3400.0, narrowband=True, mu_law=True)
def _telephone(p: dict, rate: int, seed: int) -> Apply:
    nyquist = (dsp.NARROWBAND_RATE if p["narrowband"] else rate) / 2
    if p["high_hz"] > nyquist:
        raise UserError(f"telephone: high_hz {p['high_hz']} is above {nyquist:g} Hz, the Nyquist "
                        f"frequency{' of 8 kHz narrowband audio' if p['narrowband'] else ''}")
    return lambda x, rng, utt, pool: dsp.telephone(x, rate, p["low_hz"], p["high_hz"], p["narrowband"],
                                                   p["mu_law"])


@register("clip", "hard clipping at fraction of the utterance's peak", fraction=[0.2, 0.6])
def _clip(p: dict, rate: int, seed: int) -> Apply:
    return lambda x, rng, utt, pool: dsp.clip(x, draw(p["fraction"], rng))


@register("gain", "level changed by db decibels (no clipping)", db=[-10.0, 10.0])
def _gain(p: dict, rate: int, seed: int) -> Apply:
    return lambda x, rng, utt, pool: dsp.gain(x, draw(p["db"], rng))


@register("pitch", "pitch moved by semitones, duration kept (WSOLA time stretch + resampling, as "
          "SoX's pitch)", semitones=[-3.0, 3.0])
def _pitch(p: dict, rate: int, seed: int) -> Apply:
    return lambda x, rng, utt, pool: dsp.shift_pitch(x, draw(p["semitones"], rng), rate)


@register("speed", "played factor times faster (ssltk.data.augment.change_speed): pitch and duration "
          "change; the length becomes about length / factor", keeps_length=False, factor=[0.9, 1.1])
def _speed(p: dict, rate: int, seed: int) -> Apply:
    return lambda x, rng, utt, pool: dsp.change_speed_np(x, draw(p["factor"], rng))
