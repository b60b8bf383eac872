"""On-the-fly augmentation of training batches: waveforms (speed) and features (SpecAugment).

`speed_perturb` is Kaldi's / ESPnet's speed perturbation done per utterance
inside a batch: an utterance played ``f`` times faster is ``1 / f`` as long and
every frequency (pitch and formants) is ``f`` times higher, which makes a model
robust to voices (vocal tract lengths) it has not heard.  Random choices come
from torch's generator, so a seeded, resumed training run repeats them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

import torch
import torchaudio.functional as AF


def speed_perturb(wavs: torch.Tensor, lens: torch.Tensor, factors: Sequence[float],
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each utterance of ``wavs [B, T]`` (valid lengths ``lens``) at a speed drawn from ``factors``.

    Returns the re-padded batch and the new lengths.  Factor 1 leaves an utterance as it is.
    """
    picks = torch.randint(len(factors), (len(lens),), generator=generator).tolist()
    out = [change_speed(wav[:n], factors[k]) for wav, n, k in zip(wavs, lens.tolist(), picks)]
    new_lens = torch.tensor([len(w) for w in out], dtype=lens.dtype, device=lens.device)
    padded = wavs.new_zeros(len(out), int(new_lens.max()) if len(out) else 0)
    for i, w in enumerate(out):
        padded[i, :len(w)] = w
    return padded, new_lens


def change_speed(wav: torch.Tensor, factor: float) -> torch.Tensor:
    """``wav [T]`` played ``factor`` times faster (Kaldi's ``sox speed``): about ``T / factor`` samples."""
    factor = Fraction(factor).limit_denominator(100)
    if factor == 1:
        return wav
    return AF.resample(wav, factor.numerator, factor.denominator)  # from f * rate down to rate


def check_speed_factors(factors: Sequence[float]) -> str | None:
    """Why ``factors`` are unusable, or None."""
    if not factors:
        return "needs at least one factor"
    bad = [f for f in factors if not (isinstance(f, (int, float)) and math.isfinite(f) and 0.5 <= f <= 2)]
    return f"factors must lie in [0.5, 2], got {bad}" if bad else None


def spec_augment(feats: torch.Tensor, lens: torch.Tensor, freq_masks: int, freq_width: int,
                 time_masks: int, time_width: int, max_time_ratio: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment's masking (Park et al., 2019; no time warping) on features ``[B, T, D]``.

    Each utterance gets ``freq_masks`` bands of ``U{0..freq_width}`` feature dimensions and
    ``time_masks`` spans of ``U{0..min(time_width, max_time_ratio * length)}`` of its valid
    frames, set to zero (the mean, after utterance MVN).  Returns a new tensor.
    """
    out = feats.clone()
    dim = feats.shape[-1]

    def draw(high: int) -> int:  # uniform on 0..high
        return int(torch.randint(high + 1, (1,), generator=generator))

    for b, n in enumerate(lens.tolist()):
        for _ in range(freq_masks):
            w = draw(min(freq_width, dim))
            start = draw(dim - w)
            out[b, :, start:start + w] = 0
        for _ in range(time_masks):
            w = draw(min(time_width, int(max_time_ratio * n)))
            start = draw(n - w)
            out[b, start:start + w] = 0
    return out
