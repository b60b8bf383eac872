"""Turn an upstream's list of hidden states into one feature sequence.

Modes:

* ``weighted_sum``: softmax-weighted sum over all ``num_layers + 1`` hidden states; the
  weights are learned and start at zero (uniform), as in SUPERB.
* ``layer``: one hidden state (``layer``, negative indices count from the end).
* ``subset``: softmax-weighted sum over the hidden states listed in ``layers``.

``layer_norm=True`` applies a parameter-free ``F.layer_norm`` over the feature dimension
to each hidden state before weighting (SUPERB's option). Trained weights can be saved
with :meth:`Featurizer.save_weights` and reused with ``weights_path=`` /
:meth:`Featurizer.load_weights`.

`FeatureSpec` names an upstream and a featurizer setting; ``spec.build()`` loads both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.errors import UserError

MODES = ("weighted_sum", "layer", "subset")
WEIGHTS_FORMAT = "ssltk.featurizer_weights"


class Featurizer(nn.Module):
    """Combine ``num_layers + 1`` hidden states ``[B, T, D]`` into ``[B, T, D]``.

    Args:
        upstream: an upstream; its ``num_layers`` and ``hidden_size`` are used. Give
            ``num_layers`` and ``hidden_size`` instead when there is none at hand.
        mode: ``"weighted_sum"``, ``"layer"`` or ``"subset"``.
        layer: hidden-state index for ``mode="layer"`` (default: the last).
        layers: hidden-state indices for ``mode="subset"``.
        layer_norm: normalise each hidden state over its feature dimension first.
        weights_path: load trained weights (see :meth:`load_weights`).
    """

    def __init__(
        self,
        upstream: nn.Module | None = None,
        *,
        num_layers: int | None = None,
        hidden_size: int | None = None,
        mode: str = "weighted_sum",
        layer: int = -1,
        layers: Sequence[int] | None = None,
        layer_norm: bool = False,
        weights_path: str | Path | None = None,
    ):
        super().__init__()
        if upstream is not None:
            num_layers, hidden_size = upstream.num_layers, upstream.hidden_size
        if num_layers is None or hidden_size is None:
            raise UserError("give an upstream, or both num_layers and hidden_size")
        if mode not in MODES:
            raise UserError(f"mode must be one of {MODES}, got {mode!r}")
        self.num_hidden_states = num_layers + 1
        self.output_size = hidden_size
        self.mode = mode
        self.layer_norm = layer_norm
        if mode == "layer":
            selected = [self._check_index(layer)]
        elif mode == "subset":
            if not layers:
                raise UserError("mode='subset' needs a non-empty `layers` list")
            selected = [self._check_index(i) for i in layers]
            if len(set(selected)) != len(selected):
                raise UserError(f"layers {list(layers)} name a hidden state twice")
        else:
            selected = list(range(self.num_hidden_states))
        self.selected = selected
        # Learned logits; a single selected layer has nothing to learn.
        self.logits = nn.Parameter(torch.zeros(len(selected))) if mode != "layer" else None
        if weights_path is not None:
            self.load_weights(weights_path)

    def _check_index(self, index: int) -> int:
        if not -self.num_hidden_states <= index < self.num_hidden_states:
            raise UserError(f"layer index {index} out of range for {self.num_hidden_states} hidden states")
        return index % self.num_hidden_states

    def weights(self) -> torch.Tensor:
        """Normalised weight of every hidden state (zeros for unselected ones)."""
        full = torch.zeros(self.num_hidden_states)
        if self.logits is None:
            full[self.selected[0]] = 1.0
        else:
            full[self.selected] = torch.softmax(self.logits.detach().float().cpu(), dim=0)
        return full

    def forward(self, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(hidden_states) != self.num_hidden_states:
            raise UserError(f"expected {self.num_hidden_states} hidden states, got {len(hidden_states)}")
        chosen = [hidden_states[i] for i in self.selected]
        if self.layer_norm:
            chosen = [F.layer_norm(h, h.shape[-1:]) for h in chosen]
        if self.logits is None:
            return chosen[0]
        weights = torch.softmax(self.logits, dim=0).to(chosen[0].dtype)
        out = chosen[0] * weights[0]
        for weight, hidden in zip(weights[1:], chosen[1:]):
            out = out + weight * hidden
        return out

    def save_weights(self, path: str | Path) -> None:
        """Write the normalised weights of all hidden states: a ``.pt``/``.pth`` file,
        or otherwise a text file with one weight per line (hidden state 0 first)."""
        path = Path(path)
        weights = self.weights()
        if path.suffix in (".pt", ".pth"):
            torch.save({"format": WEIGHTS_FORMAT, "weights": weights, "mode": self.mode, "layers": self.selected}, path)
        else:
            path.write_text("".join(f"{float(w):.8g}\n" for w in weights))

    def load_weights(self, path: str | Path) -> None:
        """Set the learned logits from :meth:`save_weights` output.

        The file holds one non-negative weight per hidden state; only the selected
        entries are used (renormalised), and they must not all be zero.
        """
        if self.logits is None:
            raise UserError("mode='layer' has no weights to load")
        path = Path(path)
        weights = read_weights(path)
        if weights.numel() != self.num_hidden_states:
            raise UserError(
                f"{path}: has {weights.numel()} weights, this featurizer has {self.num_hidden_states} hidden states"
            )
        if bool((weights < 0).any()):
            raise UserError(f"{path}: weights must be non-negative (normalised weights, not logits)")
        chosen = weights[self.selected]
        if float(chosen.sum()) <= 0:
            raise UserError(f"{path}: the selected hidden states {self.selected} all have weight 0")
        with torch.no_grad():
            self.logits.copy_(torch.log((chosen / chosen.sum()).clamp(min=1e-12)))

    def extra_repr(self) -> str:
        return f"mode={self.mode}, hidden_states={self.selected}, layer_norm={self.layer_norm}"


@dataclass(frozen=True)
class FeatureSpec:
    """Which features: an upstream (hub name or path) and how a `Featurizer` combines its
    hidden states.  `build` makes both; every consumer (extraction, on-the-fly training,
    inference from audio) goes through it.

    A feature dump holds fixed features (``fixed``: one layer, or a weighted sum read from a
    ``weights`` file) and stores its spec in ``feats_info.yaml`` as the keys ``upstream``,
    ``layer``, ``weights`` and ``layer_norm`` (`to_info` / `from_info`).  ``upstream: null``
    marks features that no upstream computes from audio (e.g. made from a phone alignment).
    """

    upstream: str | None
    layer: int | None = None  # mode layer: the hidden state (None: the last)
    weights: str | None = None  # a weights file (Featurizer.save_weights): fixed weights
    layer_norm: bool = False
    mode: str | None = None  # Featurizer mode (default: weighted_sum with weights, else layer)
    layers: tuple[int, ...] | None = None  # mode subset

    def __post_init__(self) -> None:
        if self.mode is None:
            object.__setattr__(self, "mode", "layer" if self.weights is None else "weighted_sum")
        if self.mode not in MODES:
            raise UserError(f"featurizer mode must be one of {MODES}, got {self.mode!r}")
        if self.weights is not None and self.mode == "layer":
            raise UserError(f"weights {self.weights}: mode 'layer' takes no weights")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))

    @property
    def fixed(self) -> bool:
        """No trainable weights: what a dump can hold."""
        return self.mode == "layer" or self.weights is not None

    @classmethod
    def from_info(cls, info: dict) -> "FeatureSpec":
        """The spec of a dump's ``feats_info.yaml`` (missing keys take their defaults).

        Older dumps named non-loadable sources in ``upstream``: ``alignment:<ctm>`` reads as
        no upstream, ``uasr:<exp>`` as the UASR experiment ``<exp>`` (see `ssltk.hub`)."""
        upstream = info.get("upstream")
        if upstream is not None:
            upstream = str(upstream)
            if upstream.startswith("alignment:"):
                upstream = None
            elif upstream.startswith("uasr:"):
                upstream = upstream[len("uasr:"):]
        weights = info.get("weights")
        layer = info.get("layer")
        return cls(upstream, layer=None if layer is None else int(layer),
                   weights=str(weights) if weights else None,
                   layer_norm=bool(info.get("layer_norm")))

    def to_info(self) -> dict:
        """The ``feats_info.yaml`` keys of a fixed spec."""
        if not self.fixed:
            raise UserError(f"a '{self.mode}' featurizer without a weights file has trainable "
                            "weights: a dump holds one layer or a weighted sum with fixed weights")
        return {"upstream": self.upstream, "layer": self.layer, "weights": self.weights,
                "layer_norm": self.layer_norm}

    def load_upstream(self) -> nn.Module:
        """``ssltk.hub.load(upstream)`` in eval mode."""
        if self.upstream is None:
            raise UserError("these features were not computed by an upstream (feats_info.yaml: "
                            "upstream: null), so they cannot be computed from audio: give a "
                            "feature dump (a data dir with feats.scp) instead")
        from ssltk import hub

        return hub.load(self.upstream).eval()

    def build(self, upstream: nn.Module | None = None) -> tuple[nn.Module, "Featurizer"]:
        """``(upstream, featurizer)``; ``upstream`` given: use it instead of loading one."""
        if self.weights is not None and not Path(self.weights).is_file():
            raise UserError(f"weights {self.weights}: no such file")
        upstream = self.load_upstream() if upstream is None else upstream
        if self.mode == "layer":
            n = upstream.num_layers
            layer = -1 if self.layer is None else self.layer
            if not -(n + 1) <= layer <= n:
                raise UserError(f"layer {layer}: {self.upstream} has hidden states 0..{n}")
            featurizer = Featurizer(upstream, mode="layer", layer=layer, layer_norm=self.layer_norm)
        else:
            featurizer = Featurizer(upstream, mode=self.mode, layers=self.layers,
                                    layer_norm=self.layer_norm, weights_path=self.weights)
        return upstream, featurizer


def read_weights(path: str | Path) -> torch.Tensor:
    """Normalised layer weights written by :meth:`Featurizer.save_weights` (``.pt``/``.pth``
    or text, one weight per hidden state), as float32."""
    path = Path(path)
    if path.suffix in (".pt", ".pth"):
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not (isinstance(payload, dict) and payload.get("format") == WEIGHTS_FORMAT):
            raise UserError(f"{path}: not a featurizer weights file (expected format {WEIGHTS_FORMAT!r})")
        return torch.as_tensor(payload["weights"], dtype=torch.float32)
    try:
        return torch.tensor([float(line) for line in path.read_text().split()], dtype=torch.float32)
    except ValueError as err:
        raise UserError(f"{path}: expected one number per line ({err})") from err
