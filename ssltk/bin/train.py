"""Train a downstream task model on an upstream (frozen by default).

    python -m ssltk.bin.train --task cls --config conf/train_cls.yaml \\
        --train data/train --valid data/dev --exp exp/cls_hubert [--upstream hubert_base|PATH]
    python -m ssltk.bin.train --task asr --config conf/train_asr.yaml --tokens dump/tokens/char \\
        --train dump/hubert_base/train --valid dump/hubert_base/dev --feats --exp exp/asr_hubert

``--feats``: ``--train``/``--valid`` are dump directories of ``ssltk.bin.extract_feats``
and their ``feats.scp`` is read instead of computing features from ``wav.scp``.
``--override key.path=value`` (YAML values) changes the config, e.g.
``--override trainer.max_epochs=5 trainer.optim.lr=1e-4``.  Rerunning the same
command continues from ``EXP/checkpoint.pt``; a finished run returns at once.
Example configs: ``ssltk/tasks/conf/``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main
from ssltk.tasks.registry import TASKS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--config", required=True, help="YAML config (trainer, frontend, data, task section)")
    p.add_argument("--train", required=True, help="training data (or dump) directory")
    p.add_argument("--valid", required=True, help="validation data (or dump) directory")
    p.add_argument("--exp", required=True, help="experiment directory")
    p.add_argument("--upstream", default=None, help="registry name or checkpoint path "
                   "(overrides frontend.upstream)")
    p.add_argument("--feats", action="store_true",
                   help="read precomputed features (feats.scp) from --train/--valid")
    p.add_argument("--tokens", default=None, help="token directory (asr; cls with cls.ctc_weight > 0); "
                   "overrides the config's tokens")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. trainer.max_epochs=3")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.tasks.experiment import train

    results = train(args.task, args.config, args.train, args.valid, args.exp, upstream=args.upstream,
                    feats=args.feats, tokens=args.tokens, overrides=args.override)
    print(f"train: {results['stop_reason']} after {results['epochs']} epochs; best "
          f"{results['best_metric']} = {results['best_value']} (epoch {results['best_epoch']}) "
          f"in {args.exp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
