"""A trained UASR generator as an upstream: audio -> phone posteriorgram.

``ssltk.hub.load(EXP)``, with ``EXP`` the experiment directory of ``ssltk.bin.uasr_train``
(its ``exp.yaml`` says ``kind: uasr``), loads the best checkpoint; a weights file inside
such a directory (e.g. ``EXP/12epoch.pth``) loads that one.  The result, a `UasrUpstream`,
computes the features the GAN was trained on (``exp.yaml``'s ``features``, read as a
`FeatureSpec`) and runs the generator on them.  Its single hidden state is the softmax of
the generator's logits, ``[B, T', num_phones]`` (columns in ``phones`` order), one frame per
``stride`` feature frames: exactly what ``ssltk.bin.uasr_infer --posteriors`` dumps, so
such a dump names the experiment as its upstream.

No voice activity detection runs here: a GAN trained and decoded on silence-removed audio
(``ssltk.bin.remove_silence``) gives the dumped posteriors on that same audio (the data
dir the features were extracted from), not on the original recordings.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.upstream.base import Upstream, valid_mask

META_FILE = "exp.yaml"


def experiment_of(path: str | Path) -> tuple[Path, str | None] | None:
    """``(experiment dir, checkpoint file or None)`` when ``path`` is a UASR experiment
    directory or a file in one, else None."""
    import yaml

    path = Path(path)
    exp = path if path.is_dir() else path.parent
    meta = exp / META_FILE
    if not meta.is_file():
        return None
    try:
        kind = (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("kind")
    except (yaml.YAMLError, AttributeError):
        return None
    if kind != "uasr":
        return None
    return exp, None if path.is_dir() else str(path)


class UasrUpstream(Upstream):
    """Feature upstream + featurizer + generator; one hidden state: phone posteriors."""

    def __init__(self, upstream: Upstream, featurizer: torch.nn.Module, model: torch.nn.Module):
        super().__init__()
        self.upstream, self.featurizer = upstream.eval(), featurizer
        self.generator = model.generator
        self.phones = list(model.phones)
        self.num_layers = 0
        self.hidden_size = len(self.phones)
        self.sample_rate = upstream.sample_rate
        self.downsample_rate = upstream.downsample_rate * self.generator.cfg.stride

    def num_frames(self, wav_lens: torch.Tensor) -> torch.Tensor:
        return self.generator.output_lens(self.upstream.num_frames(wav_lens))

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor):
        hidden, lens = self.upstream(wavs, wav_lens)
        logits, out_lens, _ = self.generator(self.featurizer(hidden), lens)
        posteriors = logits.float().softmax(dim=-1)
        posteriors = posteriors * valid_mask(out_lens, posteriors.size(1)).unsqueeze(-1)
        return [posteriors], out_lens


def load_uasr_upstream(path: str | Path) -> UasrUpstream:
    """The `UasrUpstream` of a UASR experiment directory, or of a weights file in one."""
    from ssltk.train.expdir import ExpDir
    from ssltk.uasr.gan import load_trained

    found = experiment_of(path)
    if found is None:
        raise UserError(f"{path}: not a UASR experiment ({META_FILE} of kind uasr missing)")
    exp, checkpoint = found
    meta = ExpDir(exp).read_meta("uasr")
    features = meta.get("features") or {}
    spec = FeatureSpec.from_info(features)
    if spec.upstream is None:
        raise UserError(f"{exp}: the GAN was trained on features that no upstream computes "
                        f"({exp / META_FILE}: features: {features}); it cannot run on audio")
    upstream, featurizer = spec.build()
    model = load_trained(exp, checkpoint)
    if featurizer.output_size != int(meta["input_dim"]):
        raise UserError(f"{exp}: the GAN takes {meta['input_dim']}-dim features, {spec.upstream} "
                        f"layer {spec.layer} gives {featurizer.output_size}")
    return UasrUpstream(upstream, featurizer, model).eval()
