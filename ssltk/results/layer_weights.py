"""Plot the learned layer weights (``featurizer_weights.txt``) of downstream experiments."""

from __future__ import annotations

from pathlib import Path

from ssltk.errors import UserError
from ssltk.featurizer import read_weights
from ssltk.tasks.experiment import WEIGHTS_FILE


def find_weights(expdir: str | Path) -> dict[str, list[float]]:
    """``{experiment name: weights}`` for every experiment under ``expdir`` with learned
    layer weights (weighted sum of an SSL upstream; one-layer features have none worth
    plotting), in name order."""
    out = {}
    for path in sorted(Path(expdir).glob(f"*/{WEIGHTS_FILE}")):
        weights = read_weights(path).tolist()
        if len(weights) > 1:
            out[path.parent.name] = weights
    return out


def plot_layer_weights(weights: dict[str, list[float]], out: str | Path) -> Path:
    """One bar chart per experiment (hidden state 0 = the transformer's input) in one PNG."""
    if not weights:
        raise UserError("no experiment with learned layer weights to plot")
    try:
        import matplotlib
    except ImportError as err:
        raise UserError("plotting layer weights needs matplotlib (pip install matplotlib)") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(weights), 1, figsize=(6, 2.2 * len(weights)), squeeze=False)
    for ax, (name, w) in zip(axes[:, 0], weights.items()):
        ax.bar(range(len(w)), w, color="tab:blue")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(w)))
        ax.set_ylabel("weight")
        ax.set_ylim(0, max(w) * 1.15)
    axes[-1, 0].set_xlabel("hidden state (0: transformer input)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
