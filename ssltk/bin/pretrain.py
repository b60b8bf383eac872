"""HuBERT / MelHuBERT masked-prediction pre-training on k-means labels (text.km).

    python -m ssltk.bin.pretrain --config ssltk/pretraining/conf/pretrain_melhubert_debug.yaml \\
        --train data/train --valid data/dev --exp exp/pt [--override trainer.max_epochs=5]

Labels: ``text.km`` + ``km_info.yaml`` of each data dir (``python -m ssltk.bin.kmeans label``),
or of ``--train-labels`` / ``--valid-labels`` dirs.  Rerunning the same command continues
from ``EXP/checkpoint.pt``.  At the end ``EXP/upstream.pt`` holds the best checkpoint's
encoder (by ``valid/acc_m``): ``ssltk.hub.load("EXP/upstream.pt")`` returns it, and
``model.upstream: EXP/upstream.pt`` continues pre-training from it.
Example configs: ``ssltk/pretraining/conf/``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssltk.bin.pretrain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (trainer, data, model)")
    p.add_argument("--train", required=True, help="training data dir")
    p.add_argument("--valid", required=True, help="validation data dir")
    p.add_argument("--exp", required=True, help="experiment directory")
    p.add_argument("--train-labels", "--train_labels", dest="train_labels", default=None,
                   help="dir with text.km + km_info.yaml for --train (default: --train)")
    p.add_argument("--valid-labels", "--valid_labels", dest="valid_labels", default=None,
                   help="dir with text.km + km_info.yaml for --valid (default: --valid)")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. trainer.max_epochs=3 model.mask_prob=0.65")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.pretraining.masked_prediction import UPSTREAM_FILE, pretrain

    results = pretrain(args.config, args.train, args.valid, args.exp, args.train_labels,
                       args.valid_labels, args.override)
    print(f"pretrain: {results['stop_reason']} after {results['epochs']} epochs; best "
          f"{results['best_metric']} = {results['best_value']} (epoch {results['best_epoch']}); "
          f"upstream: {args.exp}/{UPSTREAM_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
