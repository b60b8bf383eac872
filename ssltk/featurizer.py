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
"""

from __future__ import annotations

from collections.abc import Sequence
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
        if path.suffix in (".pt", ".pth"):
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if not (isinstance(payload, dict) and payload.get("format") == WEIGHTS_FORMAT):
                raise UserError(f"{path}: not a featurizer weights file (expected format {WEIGHTS_FORMAT!r})")
            weights = torch.as_tensor(payload["weights"], dtype=torch.float32)
        else:
            try:
                weights = torch.tensor([float(line) for line in path.read_text().split()], dtype=torch.float32)
            except ValueError as err:
                raise UserError(f"{path}: expected one number per line ({err})") from err
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
