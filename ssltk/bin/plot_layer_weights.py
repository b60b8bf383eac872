"""Plot the learned layer weights of the experiments under an exp dir into one PNG.

    python -m ssltk.bin.plot_layer_weights --expdir exp --out exp/layer_weights.png

Experiments without learned weights over several hidden states (FBANK, one chosen layer)
are left out; with none left, nothing is written.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    from ssltk.results.layer_weights import find_weights, plot_layer_weights

    parser = argparse.ArgumentParser(prog="python -m ssltk.bin.plot_layer_weights",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--expdir", required=True, help="directory of experiment directories")
    parser.add_argument("--out", required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    weights = find_weights(args.expdir)
    if not weights:
        print(f"plot_layer_weights: no experiment under {args.expdir} has learned layer weights "
              f"(SSL upstream, weighted sum): nothing plotted")
        return 0
    plot_layer_weights(weights, args.out)
    for name, w in weights.items():
        top = max(range(len(w)), key=w.__getitem__)
        print(f"{name}: heaviest hidden state {top} ({w[top]:.3f}); "
              + " ".join(f"{x:.3f}" for x in w))
    print(f"plot_layer_weights: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
