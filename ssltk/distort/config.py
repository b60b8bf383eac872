"""Distortion configs: strict, typed dataclasses read with `ssltk.train.config.load_config`.

A distortion file (``distort.yaml``)::

    seed: 0
    sample_rate: 16000
    prob: 1.0                    # chance that an utterance is distorted at all
    distortions:
      - {kind: noise, snr: [0, 20], files: [/data/noise/speech_commands_bg]}
      - {kind: reverb, rt60: [0.2, 0.8]}
      - {name: phone, kind: telephone, mu_law: false}
      - {kind: babble, snr: [5, 15], talkers: [3, 7]}
    seen: [noise, reverb]        # drawn from in training
    unseen: [phone, babble]      # held out for evaluation

A distortion is named by ``name`` (default: its kind).  ``seen`` and ``unseen`` list names
(a name listed twice is drawn twice as often); a registered kind that is not defined under
``distortions`` means that kind with its defaults.  Parameters left out take the kind's
defaults (``python -m ssltk.bin.distort_data --help`` lists them); ``[low, high]`` is drawn
uniformly per utterance.  Relative paths are relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssltk.distort.kinds import KINDS, REQUIRED, as_list
from ssltk.train.config import FieldError, load_config, require

Range = float | list[float]  # a number, or [low, high] drawn uniformly per utterance
IntRange = int | list[int]

# parameter: (lowest, highest) value allowed, for a number and both ends of a range
LIMITS = {"snr": (-50, 100), "talkers": (1, 100), "rt60": (0.05, 5), "distance": (0.1, 50),
          "rooms": (1, 10**6), "low_hz": (0, 96000), "high_hz": (1, 96000), "fraction": (0.001, 1),
          "db": (-60, 60), "semitones": (-12, 12), "factor": (0.5, 2)}
ROOM_SIDE = (1.5, 100)  # metres
SCALAR = {"rooms", "low_hz", "high_hz"}  # numbers, not ranges


@dataclass
class DistortionConfig:
    """One distortion: a registered ``kind`` and its parameters (unset: the kind's default)."""

    kind: str
    name: str | None = None  # how seen / unseen / --name refer to it; default: the kind
    snr: Range | None = None  # noise, babble: dB, power of the speech / power of the noise
    files: str | list[str] | None = None  # noise: recordings; reverb: impulse responses
    talkers: IntRange | None = None  # babble: how many other utterances are summed
    data_dir: str | None = None  # babble: where they come from (default: the batch / the dir distorted)
    rt60: Range | None = None  # reverb (simulated): seconds
    room: list[Range] | None = None  # reverb (simulated): length, width, height in metres
    distance: Range | None = None  # reverb (simulated): source to microphone, metres
    rooms: int | None = None  # reverb (simulated): size of the bank of rooms drawn from
    low_hz: float | None = None  # telephone: band-pass edges
    high_hz: float | None = None
    narrowband: bool | None = None  # telephone: 8 kHz round trip
    mu_law: bool | None = None  # telephone: 8-bit mu-law coding
    fraction: Range | None = None  # clip: threshold as a fraction of the utterance's peak
    db: Range | None = None  # gain: decibels
    semitones: Range | None = None  # pitch
    factor: Range | None = None  # speed: 1.1 = 10% faster

    def __post_init__(self) -> None:
        require(self.kind in KINDS, "kind", f"unknown distortion {self.kind!r}; known: {', '.join(KINDS)}")
        require(self.name is None or bool(re.fullmatch(r"[\w.+-]+", self.name)), "name",
                f"must be letters, digits, '_', '.', '+' or '-', got {self.name!r}")
        kind = KINDS[self.kind]
        given = self.given()
        for key, value in given.items():
            require(key in kind.params, key, f"not a parameter of '{self.kind}' "
                    f"(its parameters: {', '.join(kind.params) or 'none'})")
            _check(key, value)
        for key, default in kind.params.items():
            require(default is not REQUIRED or key in given, key, f"'{self.kind}' needs {key}")
        if kind.exclusive and kind.exclusive[0] in given:
            clash = [k for k in kind.exclusive[1:] if k in given]
            require(not clash, clash[0] if clash else "", f"does not apply with {kind.exclusive[0]}")
        low, high = self.params().get("low_hz"), self.params().get("high_hz")
        require(low is None or low < high, "high_hz", f"must be above low_hz ({low}), got {high}")

    @property
    def label(self) -> str:
        return self.name or self.kind

    def given(self) -> dict[str, Any]:
        """The parameters set (not None)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("kind", "name") and getattr(self, f.name) is not None}

    def params(self) -> dict[str, Any]:
        """Every parameter of the kind: as given, else its default."""
        given = self.given()
        return {key: given.get(key, default) for key, default in KINDS[self.kind].params.items()}

    def record(self) -> dict[str, Any]:
        """Name, kind and every parameter, paths made absolute: what a distorted copy records."""
        params = self.params()
        if params.get("files") is not None:
            params["files"] = [str(Path(f).resolve()) for f in as_list(params["files"])]
        if params.get("data_dir") is not None:
            params["data_dir"] = str(Path(params["data_dir"]).resolve())
        return {"name": self.label, "kind": self.kind, **{k: _plain(v) for k, v in params.items()}}


def _plain(value: Any) -> Any:
    """Tuples as lists, for YAML and equality with what YAML reads back."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _check(key: str, value: Any) -> None:
    if key == "files":
        files = as_list(value)
        require(bool(files) and all(isinstance(f, str) and f for f in files), key,
                f"expected a path or a list of paths, got {value!r}")
    elif key == "data_dir":
        require(isinstance(value, str) and bool(value), key, f"expected a path, got {value!r}")
    elif key in ("narrowband", "mu_law"):
        require(isinstance(value, bool), key, f"expected true or false, got {value!r}")
    elif key == "room":
        require(isinstance(value, (list, tuple)) and len(value) == 3, key,
                f"expected 3 sides (length, width, height), each a number or [low, high], got {value!r}")
        for side in value:
            _check_range(key, side, *ROOM_SIDE)
    else:
        _check_range(key, value, *LIMITS[key], integer=key in ("talkers", "rooms"), scalar=key in SCALAR)


def _check_range(key: str, value: Any, lowest: float, highest: float, integer: bool = False,
                 scalar: bool = False) -> None:
    number = int if integer else (int, float)
    is_range = isinstance(value, (list, tuple)) and not scalar
    ends = list(value) if is_range else [value]
    what = "an integer" if integer else "a number"
    require(all(isinstance(v, number) and not isinstance(v, bool) for v in ends)
            and len(ends) == (2 if is_range else 1), key,
            f"expected {what}{'' if scalar else f' or [low, high] of {what}s'}, got {value!r}")
    require(all(lowest <= v <= highest for v in ends), key,
            f"must lie in [{lowest}, {highest}], got {value!r}")
    require(ends[0] <= ends[-1], key, f"low end above high end: {value!r}")


@dataclass
class DistortionSetConfig:
    """A distortion file: the distortions, which are seen in training and which held out."""

    seed: int = 0
    sample_rate: int = 16000
    prob: float = 1.0  # chance that an utterance is distorted at all (else left clean)
    distortions: list[DistortionConfig] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # names drawn from in training
    unseen: list[str] = field(default_factory=list)  # names held out for evaluation

    def __post_init__(self) -> None:
        require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        require(self.sample_rate > 0, "sample_rate", f"must be > 0, got {self.sample_rate}")
        require(0 <= self.prob <= 1, "prob", f"must be in [0, 1], got {self.prob}")
        labels = [d.label for d in self.distortions]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        require(not twice, "distortions", f"names used twice: {', '.join(twice)} (give each a name)")
        for key in ("seen", "unseen"):
            for name in getattr(self, key):
                try:
                    self.entry(name)
                except KeyError as e:
                    raise FieldError(key, e.args[0]) from None
                except FieldError as e:
                    raise FieldError(key, f"{name!r} with its defaults: {e}; define it under distortions") \
                        from None
        both = sorted(set(self.seen) & set(self.unseen))
        require(not both, "unseen", f"also seen in training: {', '.join(both)}")

    def names(self) -> list[str]:
        """The distortions defined, by name."""
        return [d.label for d in self.distortions]

    def entry(self, name: str) -> DistortionConfig:
        """The distortion called ``name``: defined under ``distortions``, or a kind with its defaults."""
        for d in self.distortions:
            if d.label == name:
                return d
        if name in KINDS:
            return DistortionConfig(kind=name)
        raise KeyError(f"no distortion named {name!r}; defined: {', '.join(self.names()) or 'none'}; "
                       f"kinds: {', '.join(KINDS)}")


def load_distortions(path: str | Path, overrides: list[str] = ()) -> DistortionSetConfig:
    """Read a distortion file strictly (errors name the file, line and key)."""
    return load_config(path, DistortionSetConfig, overrides)
