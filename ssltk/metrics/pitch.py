"""Pitch-tracking errors of a frame-level F0 track against a reference one.

Both tracks hold one F0 per frame in Hz, ``0`` (or any value <= 0) on unvoiced frames, and
have the same frames.  The usual measures of pitch-tracker evaluations:

``gross_pitch_error``       GPE: of the frames voiced in both tracks, the fraction whose F0
                            is off by more than ``tolerance`` (20%) of the reference
``fine_pitch_error_cents``  FPE: the mean absolute error in cents (1200 log2 of the ratio)
                            over the other frames voiced in both (those without a gross error)
``vuv_error``               the fraction of all frames whose voicing decisions differ

Rates are fractions in [0, 1] (nan when no frame counts).  To pool a corpus, concatenate
its utterances' frames (frame-weighted rates), as `pitch_errors` does for lists.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

GROSS_TOLERANCE = 0.2  # relative error above which a frame's F0 is a gross error


def _pair(ref: Sequence[float] | np.ndarray, hyp: Sequence[float] | np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    ref, hyp = np.asarray(ref, dtype=np.float64).reshape(-1), np.asarray(hyp, dtype=np.float64).reshape(-1)
    if len(ref) != len(hyp):
        raise ValueError(f"pitch tracks of {len(ref)} and {len(hyp)} frames")
    return ref, hyp


def _voiced_both(ref: np.ndarray, hyp: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """F0s of the frames voiced in both tracks, and which of them are gross errors."""
    both = (ref > 0) & (hyp > 0)
    r, h = ref[both], hyp[both]
    return np.stack([r, h]), np.abs(h - r) > tolerance * r


def gross_pitch_error(ref, hyp, tolerance: float = GROSS_TOLERANCE) -> float:
    """GPE: the fraction of frames voiced in both ``ref`` and ``hyp`` with
    ``|hyp - ref| > tolerance * ref``."""
    pairs, gross = _voiced_both(*_pair(ref, hyp), tolerance)
    return float(gross.mean()) if len(gross) else math.nan


def fine_pitch_error_cents(ref, hyp, tolerance: float = GROSS_TOLERANCE) -> float:
    """FPE: mean ``|1200 log2(hyp / ref)|`` over the frames voiced in both tracks that are not
    gross errors."""
    pairs, gross = _voiced_both(*_pair(ref, hyp), tolerance)
    fine = pairs[:, ~gross]
    return float(np.abs(1200 * np.log2(fine[1] / fine[0])).mean()) if fine.shape[1] else math.nan


def vuv_error(ref, hyp) -> float:
    """The fraction of frames voiced in one track and unvoiced in the other."""
    ref, hyp = _pair(ref, hyp)
    return float(((ref > 0) != (hyp > 0)).mean()) if len(ref) else math.nan


def pitch_errors(refs: Sequence[np.ndarray], hyps: Sequence[np.ndarray],
                 tolerance: float = GROSS_TOLERANCE) -> dict[str, float]:
    """GPE, FPE and V/UV error of lists of utterance tracks, pooled over all frames, with
    the counts they rest on: ``{"gpe", "fpe_cents", "vuv_error", "frames", "voiced_both"}``."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} reference and {len(hyps)} hypothesis tracks")
    pairs = [_pair(r, h) for r, h in zip(refs, hyps)]
    ref = np.concatenate([r for r, _ in pairs]) if pairs else np.zeros(0)
    hyp = np.concatenate([h for _, h in pairs]) if pairs else np.zeros(0)
    return {"gpe": gross_pitch_error(ref, hyp, tolerance),
            "fpe_cents": fine_pitch_error_cents(ref, hyp, tolerance),
            "vuv_error": vuv_error(ref, hyp), "frames": len(ref),
            "voiced_both": int(((ref > 0) & (hyp > 0)).sum())}
