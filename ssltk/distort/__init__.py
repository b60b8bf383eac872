"""Seeded waveform distortions for robustness: pre-training, distillation, downstream training
and distorted evaluation sets.

Kinds (`ssltk.distort.kinds.KINDS`): ``clean``, ``noise`` (real recordings at an SNR),
``babble`` (other utterances at an SNR), ``reverb`` (impulse-response files or rooms
simulated with pyroomacoustics), ``telephone`` (band-pass, 8 kHz, mu-law), ``clip``,
``gain``, ``pitch``, ``speed``.  SNR: power of the speech over the utterance's samples /
power of the added noise over the same samples, hit exactly.

- `DistortionConfig` (one distortion), `DistortionSetConfig` / `load_distortions` (a file
  with ``seen`` and ``unseen`` lists): `ssltk.distort.config`;
- `Distorter`: ``.utterance(wav, utt, epoch)`` and ``.batch(wavs, lens, utts, epoch)``,
  seeded by ``(seed, utterance id, epoch)`` (`utterance_rng`): `ssltk.distort.apply`;
- `distort_data_dir`: a distorted copy of a data dir: `ssltk.distort.datadir`.
"""

from ssltk.distort.apply import Distorter, utterance_rng
from ssltk.distort.config import DistortionConfig, DistortionSetConfig, load_distortions
from ssltk.distort.datadir import distort_data_dir
from ssltk.distort.kinds import KINDS

__all__ = ["KINDS", "Distorter", "DistortionConfig", "DistortionSetConfig", "distort_data_dir",
           "load_distortions", "utterance_rng"]
