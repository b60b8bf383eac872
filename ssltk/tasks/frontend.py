"""Features for a task head: upstream + featurizer on audio, or precomputed features.

Batches (see `ssltk.tasks.data`) hold either ``wavs``/``wav_lens`` (features are
computed on the fly) or ``feats``/``feat_lens`` (read from a dump made by
``ssltk.bin.extract_feats``, which already holds one layer or a weighted sum:
no featurizer applies).

A frozen upstream (the default) stays in eval mode, runs without gradients,
has no trainable parameters, and is left out of the model's ``state_dict``:
checkpoints hold the head and featurizer only, and the upstream is loaded
again from its name or path (`upstream_fingerprint` guards against a changed
file).  With ``finetune_upstream`` it trains with the head and is saved.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from ssltk.errors import UserError

UPSTREAM_PREFIX = "upstream."


class Frontend(nn.Module):
    """``forward(batch) -> (feats [B, T, D], lens [B])``; ``output_size`` is D."""

    def __init__(self, upstream: nn.Module | None = None, featurizer: nn.Module | None = None,
                 finetune: bool = False, input_dim: int | None = None):
        super().__init__()
        self.upstream = upstream
        self.featurizer = featurizer
        self.finetune = finetune and upstream is not None
        if upstream is None:
            if input_dim is None:
                raise ValueError("a precomputed-feature frontend needs input_dim")
            self.output_size = input_dim
        else:
            self.output_size = featurizer.output_size
            if not self.finetune:
                upstream.eval()
                upstream.requires_grad_(False)
                self.register_state_dict_post_hook(_drop_upstream)
                self.register_load_state_dict_pre_hook(_keep_upstream)

    def train(self, mode: bool = True) -> "Frontend":
        super().train(mode)
        if self.upstream is not None and not self.finetune:
            self.upstream.eval()
        return self

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if self.upstream is None:
            if "feats" not in batch:
                raise UserError("this model reads precomputed features, the batch holds audio")
            return batch["feats"], batch["feat_lens"]
        if "wavs" not in batch:
            raise UserError("this model computes features from audio, the batch holds features")
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            hidden, lens = self.upstream(batch["wavs"], batch["wav_lens"])
        return self.featurizer(hidden), lens.to(torch.long)


def _drop_upstream(module: Frontend, state: dict, prefix: str, local_metadata) -> None:
    for key in [k for k in state if k.startswith(prefix + UPSTREAM_PREFIX)]:
        del state[key]


def _keep_upstream(module: Frontend, state: dict, prefix: str, local_metadata, strict,
                   missing_keys, unexpected_keys, error_msgs) -> None:
    for key, value in module.upstream.state_dict().items():
        state.setdefault(prefix + UPSTREAM_PREFIX + key, value)


def build_frontend(cfg, input_dim: int | None = None) -> Frontend:
    """A `Frontend` from a `FrontendConfig`; ``input_dim`` given: precomputed features."""
    if input_dim is not None:
        return Frontend(input_dim=input_dim)
    from ssltk import hub
    from ssltk.featurizer import Featurizer

    upstream = hub.load(cfg.upstream)
    featurizer = Featurizer(upstream, mode=cfg.featurizer, layer=cfg.layer, layers=cfg.layers,
                            layer_norm=cfg.layer_norm)
    return Frontend(upstream, featurizer, finetune=cfg.finetune_upstream)


def frontend_for_dump(info: dict) -> Frontend:
    """The on-the-fly frontend that computes what a feature dump holds (``feats_info.yaml``)."""
    from ssltk import hub
    from ssltk.featurizer import Featurizer

    upstream = hub.load(info["upstream"])
    if info.get("weights"):
        featurizer = Featurizer(upstream, mode="weighted_sum", layer_norm=bool(info.get("layer_norm")),
                                weights_path=info["weights"])
    else:
        layer = info.get("layer")
        featurizer = Featurizer(upstream, mode="layer", layer=-1 if layer is None else int(layer),
                                layer_norm=bool(info.get("layer_norm")))
    return Frontend(upstream, featurizer)


@torch.no_grad()
def upstream_fingerprint(upstream: nn.Module) -> str:
    """SHA-1 of an upstream's state (names, shapes, values): detects a changed checkpoint."""
    digest = hashlib.sha1()
    for name, value in upstream.state_dict().items():
        if torch.is_tensor(value):
            value = value.detach().cpu().contiguous()
            digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}".encode())
            digest.update(value.view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()
