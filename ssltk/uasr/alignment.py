"""Features made from a phone alignment: a diagnostic, not an upstream.

Each frame is the one-hot vector of the phone that the alignment (a CTM) puts there, plus
Gaussian noise, written as a feature dump (`ssltk.data.dump`) with the data dir's tables.
Perfectly phonetic features tell whether a method fails because of the features or of
itself.  Uses labels: never report it as an unsupervised result.  The dump's spec has no
upstream (``upstream: null``; ``made_from`` names the alignment): models train on the dump,
but nothing computes these features from audio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssltk.data.batching import utt_durations
from ssltk.data.ctm import Segment, frame_labels, read_ctm
from ssltk.data.datadir import DataDir, write_text_atomic
from ssltk.data.dump import write_dump
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec

GAP = "<gap>"  # the class of frames that no segment covers


def phone_list(ctm: dict[str, list[Segment]], labels: Path | None) -> list[str]:
    """The phone order: read from ``labels`` when it exists, else the sorted phones of
    ``ctm`` and `GAP` (written to ``labels`` when given)."""
    if labels is not None and labels.is_file():
        return labels.read_text(encoding="utf-8").split()
    phones = sorted({seg[2] for segs in ctm.values() for seg in segs}) + [GAP]
    if labels is not None:
        write_text_atomic(labels, "".join(p + "\n" for p in phones))
    return phones


def one_hot_frames(segments: list[Segment], num_frames: int, frame_rate: float,
                   index: dict[str, int], noise: float, rng: np.random.Generator) -> np.ndarray:
    """``[num_frames, len(index)]``: the one-hot phone of each frame plus N(0, noise^2);
    a KeyError names a phone missing from ``index``."""
    ids = [index[p or GAP] for p in frame_labels(segments, num_frames, frame_rate)]
    x = np.zeros((num_frames, len(index)), np.float32)
    x[np.arange(num_frames), ids] = 1.0
    return x + noise * rng.standard_normal(x.shape).astype(np.float32)


def alignment_dump(data: str | Path, out: str | Path, ctm: str = "phones.ctm",
                   frame_rate: float = 50.0, noise: float = 0.3, labels: str | Path | None = None,
                   seed: int = 0) -> tuple[int, int]:
    """Write the dump of ``DATA/ctm`` to ``out``; returns ``(utterances, phones)``."""
    ddir = DataDir(data)
    ctm_path = ddir.path / ctm
    if not ctm_path.is_file():
        raise UserError(f"{ctm_path}: no such alignment")
    segments = read_ctm(ctm_path)
    labels_path = Path(labels) if labels else None
    phones = phone_list(segments, labels_path)
    index = {p: i for i, p in enumerate(phones)}
    durations = utt_durations(ddir)
    rng = np.random.default_rng(seed)

    def matrices():
        for utt in sorted(durations, key=str.encode):
            if utt not in segments:
                raise UserError(f"{ctm_path}: no alignment for '{utt}'")
            try:
                x = one_hot_frames(segments[utt], int(durations[utt] * frame_rate), frame_rate,
                                   index, noise, rng)
            except KeyError as err:
                raise UserError(f"{ctm_path}: '{utt}' has phone {err} missing from "
                                f"{labels_path}") from None
            yield utt, x

    n = write_dump(out, FeatureSpec(None), matrices(), frame_rate, source=ddir,
                   made_from=f"one-hot phones of {ctm_path} + noise {noise} (uses labels)",
                   noise=noise)
    return n, len(phones)
