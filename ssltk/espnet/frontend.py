"""`SSLTKFrontend`: any ssltk upstream as an ESPnet frontend (``frontend: ssltk``).

ESPnet config (register the name with :mod:`ssltk.espnet.run`)::

    frontend: ssltk
    frontend_conf:
        upstream: hubert_base        # registry name or checkpoint path (ssltk.hub.load)
        featurizer: weighted_sum     # or layer (with layer: N) or subset (with layers: [..])
        layer_norm: false            # normalise each hidden state first
        weights_path: null           # start the weighted sum from saved Featurizer weights
        finetune_upstream: false     # default: frozen (eval mode, no gradients)
        peft:                        # optional: parameter-efficient methods (ssltk.peft)
            houlsby: {bottleneck: 32}

The options mean what they mean in ssltk's own task configs. ``fs`` (asr.sh passes
``--frontend_conf fs=16k``) must equal the upstream's sample rate (16 kHz for every
ssltk model): the frontend does not resample.

Like ESPnet's ``frontend: s3prl``, a checkpoint holds the whole model, upstream
included; decoding rebuilds the model from ``config.yaml`` (so the upstream must
still load) and then takes every weight from the checkpoint.
"""

from __future__ import annotations

import humanfriendly
import torch
from typeguard import typechecked

from ssltk.errors import UserError
from ssltk.espnet import ESPNET_MISSING

try:
    from espnet2.asr.frontend.abs_frontend import AbsFrontend
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(ESPNET_MISSING) from err


class SSLTKFrontend(AbsFrontend):
    """``forward(speech [B, T], lengths [B]) -> (feats [B, T', D], feats_lens [B])``."""

    @typechecked
    def __init__(
        self,
        upstream: str,
        fs: int | str = 16000,
        featurizer: str = "weighted_sum",
        layer: int = -1,
        layers: list[int] | None = None,
        layer_norm: bool = False,
        weights_path: str | None = None,
        finetune_upstream: bool = False,
        peft: dict | None = None,
    ):
        from ssltk import hub
        from ssltk.featurizer import MODES, Featurizer
        from ssltk.peft import PeftConfig, apply_peft
        from ssltk.train.config import config_from_dict

        super().__init__()
        if featurizer not in MODES:
            raise UserError(f"frontend_conf featurizer={featurizer!r}: must be one of {', '.join(MODES)}")
        try:
            rate = humanfriendly.parse_size(fs) if isinstance(fs, str) else fs  # ESPnet's "16k"
        except humanfriendly.InvalidSize as err:
            raise UserError(f"frontend_conf fs={fs!r}: not a sample rate ({err})") from err
        self.upstream_source = upstream
        self.upstream = hub.load(upstream)
        if rate != self.upstream.sample_rate:
            raise UserError(
                f"frontend_conf fs={fs}: upstream {upstream!r} takes {self.upstream.sample_rate} Hz audio; "
                f"resample the data (asr.sh --fs {self.upstream.sample_rate // 1000}k)"
            )
        self.featurizer = Featurizer(
            self.upstream, mode=featurizer, layer=layer, layers=layers,
            layer_norm=layer_norm, weights_path=weights_path,
        )
        self.finetune_upstream = finetune_upstream
        self.peft = config_from_dict(peft, PeftConfig, source="frontend_conf.peft") if peft else None
        self.adapted = bool(self.peft and self.peft.methods())
        if self.adapted:  # freezes the upstream but for the methods' parameters
            apply_peft(self.upstream, self.peft, finetune=finetune_upstream)
        elif not finetune_upstream:
            self.upstream.requires_grad_(False)
        # ESPnet's `init:` option (espnet2.torch_utils.initialize) re-initialises every
        # parameter, then calls each module's `espnet_initialization_fn` in `modules()`
        # order. The featurizer comes after every upstream module, so its hook restores
        # the whole frontend after the last reset of any of them.
        self._initial_featurizer = {k: v.detach().clone() for k, v in self.featurizer.state_dict().items()}
        self.featurizer.espnet_initialization_fn = self.restore_initial_parameters

    def output_size(self) -> int:
        return self.featurizer.output_size

    def train(self, mode: bool = True) -> SSLTKFrontend:
        super().train(mode)
        if not self.finetune_upstream:
            self.upstream.eval()
        return self

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if input.dim() != 2:
            raise UserError(f"the ssltk frontend takes mono audio [batch, samples], got shape {tuple(input.shape)}")
        with torch.set_grad_enabled((self.finetune_upstream or self.adapted) and torch.is_grad_enabled()):
            hidden, lens = self.upstream(input, input_lengths)
        return self.featurizer(hidden), lens.to(torch.long)

    def restore_initial_parameters(self) -> None:
        """Reload the upstream from its name or path (with freshly initialised peft modules)
        and reset the featurizer's weights."""
        from ssltk import hub
        from ssltk.peft import apply_peft

        fresh = hub.load(self.upstream_source)
        if self.adapted:
            apply_peft(fresh, self.peft, finetune=self.finetune_upstream)
        self.upstream.load_state_dict(fresh.state_dict())  # copies in place
        self.featurizer.load_state_dict(self._initial_featurizer)
