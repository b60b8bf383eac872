"""Speech from espeak-ng: samples plus phone timings.

Two engines, chosen by `open_engine`:

- `EspeakLibrary` drives libespeak-ng through ctypes (the copy shipped by the
  ``espeakng-loader`` wheel, else a system ``libespeak-ng``).  Synchronous
  retrieval mode hands back samples and events; phoneme events give each
  phone's first sample, word events its word.
- `EspeakProgram` runs the ``espeak-ng`` program: audio and phones per word,
  but no timings, so no alignments.

Determinism.  libespeak-ng keeps synthesis state in globals that survive
``espeak_Terminate`` (the pitch "flutter" position, filter and echo memories)
and seeds its noise generator from the clock, so the same call twice in one
process gives different samples.  The library engine therefore loads a
private copy of the shared object, synthesises one utterance, and unloads it
(``dlclose``) before the next: every utterance starts from a fresh library,
with the noise generator seeded from the utterance's seed.  The library is
not thread-safe either (one global synthesiser): use processes, not threads.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import ctypes.util
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ssltk.errors import UserError

NATIVE_RATE = 22050  # espeak-ng's output rate
SILENCE = "sil"  # label of pauses in alignments
STRESS_MARKS = "ˈˌ"  # IPA stress is a property of the syllable, not a phone

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x1, 0x2, 0x8000
_CHARS_UTF8, _POS_CHARACTER = 1, 1
_EVENT_WORD, _EVENT_PHONEME = 1, 7
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7


class EspeakError(UserError):
    """espeak-ng is missing or failed; the message says what to install or fix."""


@dataclass(frozen=True)
class Voice:
    """What espeak is asked for: ``language+variant`` and prosody settings."""

    name: str  # e.g. "en-us+m3"
    rate: int = 175  # words per minute (80-450)
    pitch: int = 50  # 0-100, 50 = the voice's own
    range: int = 50  # pitch range 0-100, 0 = monotone
    volume: int = 100  # 0-200


@dataclass
class Phone:
    """A labelled stretch of the output, in samples at `NATIVE_RATE`."""

    label: str
    start: int
    end: int
    word: int | None = None  # 0-based word index in the text; None for pauses


@dataclass
class Synthesis:
    """espeak's output for one text: int16 samples, words' phones, phone timings."""

    samples: np.ndarray  # int16 [T] at NATIVE_RATE
    words: list[list[str]]  # phones of each word of the text
    phones: list[Phone] | None = field(default=None)  # None: engine gives no timings


def clean_label(name: str) -> str:
    """An IPA phone label without stress marks."""
    return "".join(ch for ch in name if ch not in STRESS_MARKS)


# --------------------------------------------------------------------------
# library engine


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                    ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


def find_library() -> tuple[str, str | None] | None:
    """``(library path, data path)`` of the espeakng-loader copy, else a system one."""
    try:
        import espeakng_loader

        lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        if Path(lib).is_file():
            return lib, data
    except (ImportError, RuntimeError):
        pass
    system = ctypes.util.find_library("espeak-ng")
    return (system, None) if system else None


class EspeakLibrary:
    """libespeak-ng through ctypes, reloaded for every utterance (see module doc)."""

    name = "libespeak-ng"

    def __init__(self, library: str, data_path: str | None = None):
        self.source, self.data_path = library, data_path
        self._libc = ctypes.CDLL(None)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, str]] = []  # (type, sample, number, name)
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the engine

    def _collect(self, wav, n, events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                self._events.append((e.type, e.sample, 0,
                                     e.id.string.decode("utf-8", errors="ignore")))
            elif e.type == _EVENT_WORD:
                self._events.append((e.type, e.sample, e.id.number, ""))
            i += 1
        return 0

    def _run(self, text: str, voice: Voice, seed: int, ipa: bool):
        """Load, synthesise, unload; returns (samples, events)."""
        lib = ctypes.CDLL(_private_copy(self.source))
        try:
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                              ctypes.c_int]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                         ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                         ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]
            options = _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT | (_INIT_PHONEME_IPA if ipa else 0)
            path = self.data_path.encode() if self.data_path else None
            if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, path, options) <= 0:
                raise EspeakError(f"{self.source}: espeak_Initialize failed "
                                  f"(data path {self.data_path or 'default'})")
            lib.espeak_SetSynthCallback(self._callback)
            if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise EspeakError(f"espeak-ng has no voice '{voice.name}'")
            for param, value in ((_RATE, voice.rate), (_PITCH, voice.pitch),
                                 (_RANGE, voice.range), (_VOLUME, voice.volume), (_WORDGAP, 0)):
                lib.espeak_SetParameter(param, int(value), 0)
            if hasattr(lib, "espeak_ng_SetRandSeed"):
                lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
                lib.espeak_ng_SetRandSeed(seed)
            self._libc.srand(ctypes.c_uint(seed))
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                      None, None)
            if status != 0:
                raise EspeakError(f"espeak_Synth failed (status {status}) on '{text}'")
            lib.espeak_Terminate()
        finally:
            handle = lib._handle
            del lib
            _ctypes.dlclose(handle)
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples, self._events

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> Synthesis:
        """Speak ``text``; phones come with timings and their word index."""
        samples, ipa_events = self._run(text, voice, seed, ipa=True)
        # A second run names the phones in espeak's mnemonics: there pauses are
        # "_", "_:", "_!" ..., while IPA names every pause (and a few joining
        # marks) with an empty string.
        _, mnemonic_events = self._run(text, voice, seed, ipa=False)
        words, phones = _phones_from_events(ipa_events, mnemonic_events, len(samples),
                                            len(text.split()))
        return Synthesis(samples, words, move_closures(samples, phones))


STOP_ONSETS = set("pbtdkɡgqcɟʔʈɖ")  # first letter of plosive and affricate labels


def move_closures(samples: np.ndarray, phones: list[Phone], quiet_db: float = 45.0,
                  min_phone_s: float = 0.01) -> list[Phone]:
    """Start plosives and affricates at their closure, not their burst.

    espeak's phoneme event for a stop comes at (or just after) the release;
    the silent closure before it is counted in the previous phone.  For a
    stop after a speech sound, the boundary moves back over the quiet stretch
    (2.5 ms frames more than ``quiet_db`` below the loudest one) that ends at
    most 10 ms before the event, leaving the previous phone at least
    ``min_phone_s`` long.
    """
    win = NATIVE_RATE // 400
    n = len(samples) // win
    if n == 0:
        return phones
    energy = (samples[:n * win].astype(np.float64) ** 2).reshape(n, win).mean(axis=1)
    floor = energy.max() * 10 ** (-quiet_db / 10)
    keep = int(min_phone_s * NATIVE_RATE)
    for prev, cur in zip(phones, phones[1:]):
        if prev.label == SILENCE or cur.label[:1] not in STOP_ONSETS:
            continue
        k = min(cur.start // win, n)
        lowest = max(0, k - 4)  # the burst may start up to 10 ms before the event
        while k > lowest and energy[k - 1] >= floor:
            k -= 1
        if k == 0 or energy[k - 1] >= floor:
            continue
        while k > 0 and energy[k - 1] < floor and (k - 1) * win >= prev.start + keep:
            k -= 1
        if cur.start - k * win >= 2 * win:
            prev.end = cur.start = k * win
    return phones


_copies: dict[str, str] = {}


def _private_copy(library: str) -> str:
    """A private copy of the library, so that no other handle keeps it loaded.

    Made once per process tree: forked workers reuse their parent's copy
    (they inherit no open handle), and the parent removes it at exit.
    """
    if library not in _copies:
        tmp = tempfile.mkdtemp(prefix="ssltk-espeak-")
        atexit.register(shutil.rmtree, tmp, True)
        _copies[library] = shutil.copy(library, Path(tmp) / "libespeak-ng-private.so")
    return _copies[library]


def _phones_from_events(ipa_events, mnemonic_events, num_samples: int, num_words: int):
    """Turn event lists into (phones of each word, timed phone list)."""
    ipa = [e for e in ipa_events if e[0] == _EVENT_PHONEME]
    mnem = [e for e in mnemonic_events if e[0] == _EVENT_PHONEME]
    same_timing = len(ipa) == len(mnem) and all(a[1] == b[1] for a, b in zip(ipa, mnem))
    timed: list[Phone] = []
    word = None
    k = 0
    for etype, sample, number, name in ipa_events:
        if etype == _EVENT_WORD:
            word = number - 1
            continue
        is_pause = mnem[k][3].startswith("_") if same_timing else name == ""
        k += 1
        label = SILENCE if is_pause else clean_label(name)
        timed.append(Phone(label, sample, sample, None if is_pause else word))
    # each phone lasts until the next one starts; the last until the end
    for cur, nxt in zip(timed, timed[1:] + [None]):
        cur.end = nxt.start if nxt is not None else num_samples
    phones: list[Phone] = []
    for p in timed:
        if p.end <= p.start:
            continue  # zero-length markers (word joins, the final flush)
        if phones and (p.label == "" or (p.label == SILENCE and phones[-1].label == SILENCE)):
            phones[-1].end = p.end  # unnamed joining marks and repeated pauses merge left
            continue
        if p.label == "":
            p.label = SILENCE
            p.word = None
        phones.append(p)
    if phones and phones[0].start > 0:  # espeak's lead-in before the first phone
        if phones[0].label == SILENCE:
            phones[0].start = 0
        else:
            phones.insert(0, Phone(SILENCE, 0, phones[0].start))
    if phones and phones[-1].end < num_samples:
        phones[-1].end = num_samples
    words: list[list[str]] = [[] for _ in range(num_words)]
    for p in phones:
        if p.word is not None and 0 <= p.word < num_words:
            words[p.word].append(p.label)
    return words, phones


# --------------------------------------------------------------------------
# program engine


class EspeakProgram:
    """The ``espeak-ng`` program: audio and phones per word, no timings.

    The pitch range setting is not available on its command line and is
    ignored; voices with breath noise are not reproducible here (the program
    seeds its noise from the clock).
    """

    name = "espeak-ng program"

    def __init__(self, program: str):
        self.program = program

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> Synthesis:
        with tempfile.TemporaryDirectory(prefix="ssltk-espeak-") as tmp:
            wav = Path(tmp) / "out.wav"
            cmd = [self.program, "-v", voice.name, "-s", str(voice.rate), "-p",
                   str(min(voice.pitch, 99)), "-a", str(voice.volume), "-g", "0", "-w", str(wav),
                   "--ipa", "--sep=_", "--", text]
            proc = subprocess.run(cmd, capture_output=True)
            if proc.returncode != 0 or not wav.is_file():
                raise EspeakError(f"{' '.join(cmd[:3])} ...: failed "
                                  f"({proc.stderr.decode(errors='replace').strip()})")
            samples, rate = sf.read(io.BytesIO(wav.read_bytes()), dtype="int16")
        if rate != NATIVE_RATE:
            raise EspeakError(f"{self.program}: unexpected output rate {rate} Hz")
        words = [[clean_label(p) for p in word.split("_") if clean_label(p)]
                 for word in proc.stdout.decode("utf-8").split()]
        return Synthesis(samples, [w for w in words if w], None)


def open_engine(kind: str = "auto"):
    """An espeak engine: ``library``, ``program`` or ``auto`` (library first)."""
    if kind not in ("auto", "library", "program"):
        raise EspeakError(f"unknown espeak engine '{kind}' (choose auto, library or program)")
    if kind in ("auto", "library"):
        found = find_library()
        if found:
            return EspeakLibrary(*found)
        if kind == "library":
            raise EspeakError("libespeak-ng not found: pip install espeakng-loader "
                              "(or install the espeak-ng system package)")
    program = shutil.which("espeak-ng")
    if program:
        return EspeakProgram(program)
    raise EspeakError("espeak-ng not found: pip install espeakng-loader "
                      "(ssltk's 'synth' extra), or apt-get install espeak-ng")
