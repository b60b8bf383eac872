"""Pitch trackers against known F0: the measurement behind ``ssltk.data.tracks.pitch``.

Candidates, all at 100 frames/s with F0 read at each frame's centre (``j / 100 + 0.0125`` s,
the frames of `ssltk.data.tracks`) and searching 50-600 Hz:

  harvest      WORLD's Harvest (Morise 2017) via pyworld
  dio          WORLD's DIO + StoneMask refinement via pyworld (Harvest's faster predecessor)
  pyin         librosa.pyin (Mauch & Dixon 2014), 64 ms frames, its HMM voicing decision
  pyin+gate    the same, and frames 40 dB below the utterance's loudest are unvoiced:
               `ssltk.data.tracks.pyin_f0`, the tracker of the ``pitch`` track
  torchaudio   torchaudio.functional.detect_pitch_frequency (NCCF, integer lags, 30-frame
               median smoothing): it has no voicing decision, every frame counts as voiced

Test material, each with a reference F0 per frame:

  (a) synthetic: harmonic series with a 1/k (glottal-pulse-like) spectrum through two fixed
      formant resonators, F0 gliding exponentially (no jitter) between random values in
      70-350 Hz, two voiced stretches per utterance, separated by white noise and surrounded
      by near-silence (a -60 dB noise floor); the F0 is known exactly.
  (a') the same signals with white noise 10 dB below the voiced stretches' level.
  (b) espeak-ng: monotone speech (pitch range 0) of the corpus generator's library engine,
      six voice variants at pitch settings drawn in 20-80; espeak's F0 is then nearly
      constant (its "flutter" leaves a few per cent), and that constant is estimated per utterance without
      any of the trackers, by subharmonic summation (Hermes 1988) on the mean magnitude
      spectrum of the frames of vowels and sonorants.  Reference voicing from espeak's
      phones: vowels, nasals, liquids and glides voiced; pauses and voiceless obstruents
      unvoiced; voiced obstruents not scored.

Frames within 20 ms of a reference voicing boundary are not scored (the boundaries of (b)
are espeak's phone events, not acoustic ones).  Measures (`ssltk.metrics.pitch`, pooled over
frames): GPE (% of frames voiced in both with an F0 error > 20%), FPE (mean |cents| over the
other frames voiced in both), V/UV error (% of frames), and the time per second of audio.

    tools/venv/bin/python bench/pitch_trackers.py [--utts 24] [--seed 0] [--no-write]

Needs librosa (ssltk's 'prosody' extra), pyworld (installed with the 'espnet' extra) and
espeak-ng's library (the 'synth' extra).

Results go to bench/RESULTS.md (the section between the markers is replaced).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import markers, write_section  # noqa: E402

from ssltk.data.tracks import F0_CEIL, F0_FLOOR, num_frames, pyin_f0  # noqa: E402
from ssltk.metrics.pitch import pitch_errors  # noqa: E402

RATE, FRAME_RATE, WINDOW = 16000, 100.0, 0.025
NOISY_SNR = 10.0  # (a'): dB below the voiced stretches' level (rms 0.3)
MARGIN = 0.02  # seconds around reference voicing boundaries that are not scored
MARK_BEGIN, MARK_END = markers("pitch_trackers")


# ------------------------------------------------------------------ candidates

def _shifted(wav: np.ndarray, seconds: float) -> np.ndarray:
    return np.ascontiguousarray(wav[round(seconds * RATE):], dtype=np.float64)


def _frames(f0: np.ndarray, n: int) -> np.ndarray:
    return np.pad(f0[:n], (0, max(0, n - len(f0))))


def track_harvest(wav: np.ndarray) -> np.ndarray:
    import pyworld

    # Harvest estimates F0 at k / FRAME_RATE: half a window later, the frames' centres
    f0, _ = pyworld.harvest(_shifted(wav, WINDOW / 2), RATE, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL,
                            frame_period=1000 / FRAME_RATE)
    return _frames(f0, num_frames(len(wav), RATE, FRAME_RATE, WINDOW))


def track_dio(wav: np.ndarray) -> np.ndarray:
    import pyworld

    x = _shifted(wav, WINDOW / 2)
    f0, t = pyworld.dio(x, RATE, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=1000 / FRAME_RATE)
    return _frames(pyworld.stonemask(x, f0, t, RATE), num_frames(len(wav), RATE, FRAME_RATE, WINDOW))


def track_pyin(wav: np.ndarray) -> np.ndarray:
    return pyin_f0(wav, RATE, FRAME_RATE, WINDOW, silence_db=None)


def track_pyin_gate(wav: np.ndarray) -> np.ndarray:
    return pyin_f0(wav, RATE, FRAME_RATE, WINDOW)


def track_torchaudio(wav: np.ndarray) -> np.ndarray:
    import torch
    import torchaudio

    n = num_frames(len(wav), RATE, FRAME_RATE, WINDOW)
    # its frame k is the block [k, k + 1) / FRAME_RATE: centre it on ours
    x = torch.from_numpy(_shifted(wav, WINDOW / 2 - 0.5 / FRAME_RATE)).float()
    f0 = torchaudio.functional.detect_pitch_frequency(x, RATE, frame_time=1 / FRAME_RATE,
                                                      freq_low=int(F0_FLOOR), freq_high=int(F0_CEIL))
    return _frames(f0.double().numpy(), n)


TRACKERS = {"harvest": track_harvest, "dio": track_dio, "pyin": track_pyin, "pyin+gate": track_pyin_gate,
            "torchaudio": track_torchaudio}


# ------------------------------------------------------------------ reference frames

def frame_centres(num_samples: int) -> np.ndarray:
    n = num_frames(num_samples, RATE, FRAME_RATE, WINDOW)
    return np.round(np.arange(n) * RATE / FRAME_RATE) / RATE + WINDOW / 2


def scored(times: np.ndarray, boundaries: list[float]) -> np.ndarray:
    """Frames farther than `MARGIN` from every voicing boundary."""
    keep = np.ones(len(times), bool)
    for b in boundaries:
        keep &= np.abs(times - b) > MARGIN
    return keep


# ------------------------------------------------------------------ (a) synthetic signals

def resonator(freq: float, bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    """A second-order all-pole resonance (unit gain at 0 Hz)."""
    r = np.exp(-np.pi * bandwidth / RATE)
    a = np.array([1.0, -2 * r * np.cos(2 * np.pi * freq / RATE), r * r])
    return np.array([a.sum()]), a


def harmonic_glide(f_start: float, f_end: float, seconds: float, formants) -> np.ndarray:
    """Harmonics k = 1, 2, ... with amplitude 1/k (faded out between 5 and 7 kHz) of an F0
    gliding exponentially from ``f_start`` to ``f_end``, through the ``formants``."""
    from scipy.signal import lfilter

    n = int(seconds * RATE)
    f0 = f_start * (f_end / f_start) ** (np.arange(n) / n)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = np.zeros(n)
    for k in range(1, int(7000 / min(f_start, f_end)) + 1):
        fk = k * f0
        fade = np.clip((7000 - fk) / 2000, 0, 1)
        if fade.any():
            x += fade / k * np.sin(k * phase)
    for freq, bw in formants:
        x = lfilter(*resonator(freq, bw), x)
    ramp = np.minimum(1, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.01 * RATE))
    return x * ramp / np.sqrt(np.mean(x ** 2))


def synthetic_utterance(rng: np.random.Generator):
    """``(wav, reference F0 per frame, scored frames)``: silence, glide, noise, glide, silence."""
    formants = [(rng.uniform(350, 800), 80.0), (rng.uniform(900, 2200), 120.0)]
    pieces, voiced = [], []  # voiced: (start s, end s, f_start, f_end)
    t = 0.0

    def add(x: np.ndarray, glide=None) -> None:
        nonlocal t
        if glide is not None:
            voiced.append((t, t + len(x) / RATE, *glide))
        pieces.append(x)
        t += len(x) / RATE

    add(np.zeros(int(rng.uniform(0.1, 0.2) * RATE)))
    for k in range(2):
        if k:
            add(0.3 * rng.standard_normal(int(rng.uniform(0.1, 0.25) * RATE)))
        glide = tuple(np.exp(rng.uniform(np.log(70), np.log(350), size=2)))
        add(0.3 * harmonic_glide(*glide, rng.uniform(0.3, 0.7), formants), glide)
    add(np.zeros(int(rng.uniform(0.1, 0.2) * RATE)))
    wav = np.concatenate(pieces)
    wav = wav + 3e-4 * rng.standard_normal(len(wav))  # -60 dB re 0.3 rms
    times = frame_centres(len(wav))
    ref = np.zeros(len(times))
    for start, end, fa, fb in voiced:
        inside = (times >= start) & (times < end)
        ref[inside] = fa * (fb / fa) ** ((times[inside] - start) / (end - start))
    return wav, ref, scored(times, [b for v in voiced for b in v[:2]])


# ------------------------------------------------------------------ (b) espeak-ng speech

TEXTS = ["please call stella and ask her to bring these things from the store",
         "she sells sea shells by the sea shore",
         "we were away a year ago",
         "the quick brown fox jumps over the lazy dog",
         "how are you doing today",
         "a large fish swam slowly in the river"]
VARIANTS = ["m1", "m3", "m5", "f1", "f4", "linda"]
VOICELESS = {"p", "t", "k", "f", "θ", "s", "ʃ", "h", "tʃ", "x", "ç", "ʔ"}
SONORANTS = {"m", "n", "ŋ", "l", "ɹ", "r", "ɾ", "w", "j", "ɫ", "ɚ", "ɝ"}
VOWEL_LETTERS = set("aeiouyæɑɒɔəɛɜɪʊʌɐɘɵɤɯɨʉøœ")


def phone_voicing(label: str) -> float:
    """1 voiced, 0 unvoiced, nan not scored."""
    if label == "sil" or label in VOICELESS:
        return 0.0
    if label in SONORANTS or any(ch in VOWEL_LETTERS for ch in label):
        return 1.0
    return np.nan


def constant_f0(wav: np.ndarray, voiced: np.ndarray) -> float:
    """The F0 of nearly monotone speech: subharmonic summation (weights 0.84^(k-1), 15
    harmonics) over the mean magnitude spectrum of the ``voiced`` frames (64 ms, 0.5 Hz grid)."""
    win, nfft = 1024, 32768
    starts = np.round(np.flatnonzero(voiced) * RATE / FRAME_RATE + WINDOW / 2 * RATE - win / 2).astype(int)
    starts = starts[(starts >= 0) & (starts + win <= len(wav))]
    frames = np.stack([wav[s:s + win] for s in starts]) * np.hanning(win)
    spectrum = np.abs(np.fft.rfft(frames, nfft)).mean(axis=0)
    freqs = np.arange(len(spectrum)) * RATE / nfft
    grid = np.arange(F0_FLOOR, F0_CEIL, 0.05)
    score = np.zeros(len(grid))
    for k in range(1, 16):
        score += 0.84 ** (k - 1) * np.interp(k * grid, freqs, spectrum, right=0.0)
    return float(grid[np.argmax(score)])


def espeak_utterances(count: int, rng: np.random.Generator):
    from ssltk.corpora.synth.espeak import NATIVE_RATE, Voice, open_engine
    from ssltk.corpora.synth.render import single_thread, to_16k

    engine = open_engine("library")
    out = []
    with single_thread():
        for i in range(count):
            voice = Voice(f"en-us+{VARIANTS[i % len(VARIANTS)]}", pitch=int(rng.integers(20, 81)), range=0)
            syn = engine.synthesize(TEXTS[int(rng.integers(len(TEXTS)))], voice, seed=i + 1)
            wav = to_16k(syn.samples.astype(np.float32) / 32768.0).astype(np.float64)
            times = frame_centres(len(wav))
            state = np.full(len(times), np.nan)
            for p in syn.phones:
                start, end = p.start / NATIVE_RATE, p.end / NATIVE_RATE
                state[(times >= start) & (times < end)] = phone_voicing(p.label)
            # only boundaries between different voicing classes count
            keep = np.isfinite(state) & scored(times, _class_changes(syn.phones, NATIVE_RATE))
            f0 = constant_f0(wav, state == 1)
            out.append((wav, np.where(state == 1, f0, 0.0), keep, voice))
    return out


def _class_changes(phones, rate: int) -> list[float]:
    out = []
    for a, b in zip(phones, phones[1:]):
        va, vb = phone_voicing(a.label), phone_voicing(b.label)
        if not (va == vb):  # nan != nan: unscored neighbours count as boundaries too
            out.append(b.start / rate)
    return out


# ------------------------------------------------------------------ main

def evaluate(material, trackers: list[str]) -> dict[str, dict]:
    results = {}
    seconds = sum(len(m[0]) for m in material) / RATE
    for name in trackers:
        refs, hyps, spent = [], [], 0.0
        for wav, ref, keep, *_ in material:
            t0 = time.perf_counter()
            hyp = TRACKERS[name](wav)
            spent += time.perf_counter() - t0
            assert len(hyp) == len(ref), (name, len(hyp), len(ref))
            refs.append(ref[keep])
            hyps.append(hyp[keep])
        results[name] = {**pitch_errors(refs, hyps), "rtf": spent / seconds}
        r = results[name]
        print(f"  {name:11s} GPE {100 * r['gpe']:6.2f}%  FPE {r['fpe_cents']:6.1f} cents  "
              f"V/UV {100 * r['vuv_error']:6.2f}%  {r['rtf']:.3f} s/s  ({r['frames']} frames)",
              file=sys.stderr)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=24, help="utterances of each material")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=list(TRACKERS))
    p.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    synthetic = [synthetic_utterance(rng) for _ in range(args.utts)]
    noise = 0.3 * 10 ** (-NOISY_SNR / 20)
    noisy = [(w + noise * rng.standard_normal(len(w)), *rest) for w, *rest in synthetic]
    espeak = espeak_utterances(args.utts, rng)
    tables = {}
    for title, material in (("(a) synthetic harmonic + noise", synthetic),
                            (f"(a') the same at {NOISY_SNR:g} dB SNR", noisy),
                            ("(b) espeak-ng monotone speech", espeak)):
        secs = sum(len(m[0]) for m in material) / RATE
        print(f"{title}: {len(material)} utterances, {secs:.1f} s", file=sys.stderr)
        tables[title] = (evaluate(material, args.trackers), secs)
    refs = sorted({round(float(m[1][m[1] > 0][0])) for m in espeak if (m[1] > 0).any()})
    lines = [MARK_BEGIN, "",
             f"{args.utts} utterances per material (seed {args.seed}), 100 frames/s, search 50-600 Hz; "
             f"(b) reference F0s {refs[0]}-{refs[-1]} Hz.",
             "GPE: % of frames voiced in both with an error > 20%; FPE: mean |cents| over the other "
             "frames voiced in both; V/UV: % of scored frames; time: seconds per second of audio "
             "(one thread, machine shared).", "",
             "| material | tracker | GPE % | FPE cents | V/UV error % | time s/s |",
             "|---|---|---:|---:|---:|---:|"]
    for title, (results, _) in tables.items():
        for name, r in results.items():
            lines.append(f"| {title} | {name} | {100 * r['gpe']:.2f} | {r['fpe_cents']:.1f} | "
                         f"{100 * r['vuv_error']:.2f} | {r['rtf']:.3f} |")
    lines += ["", "torchaudio makes no voicing decision (every frame voiced): its V/UV error is the "
              "share of unvoiced reference frames.",
              "Reproduce: `tools/venv/bin/python bench/pitch_trackers.py --utts "
              f"{args.utts} --seed {args.seed}`", "", MARK_END]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section("pitch_trackers", section, "Pitch trackers")


if __name__ == "__main__":
    main()
