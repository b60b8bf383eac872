"""Distil an SSL upstream into a shallow student (DistilHuBERT).

    python -m ssltk.bin.distill --config conf/distill.yaml --train data/train --valid data/dev \\
        --exp exp/distill [--teacher hubert_base|PATH] [--override trainer.max_steps=1000 ...]

The teacher (``distill.teacher``, ``--teacher`` overrides) stays frozen; the student and
its prediction heads train with ``ssltk.train.Trainer`` (resumable: rerunning the same
command continues from ``EXP/checkpoint.pt``; the best checkpoint is chosen by
``trainer.best_metric``, ``valid/loss`` by default).  At the end the best checkpoint's
student is written to ``EXP/student.pt``, an upstream checkpoint for
``ssltk.hub.load`` / ``--upstream``.  Example configs: ``ssltk/pretraining/conf/distill_*.yaml``;
details in ``ssltk.pretraining.distill``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distill", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (trainer, distill, data sections)")
    p.add_argument("--train", required=True, help="training data directory (wav.scp)")
    p.add_argument("--valid", required=True, help="validation data directory (wav.scp)")
    p.add_argument("--exp", required=True, help="experiment directory")
    p.add_argument("--teacher", default=None, help="registry name or checkpoint path "
                   "(overrides distill.teacher)")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. trainer.max_steps=100 distill.student_layers=4")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.pretraining.distill import train

    results = train(args.config, args.train, args.valid, args.exp, teacher=args.teacher,
                    overrides=args.override)
    print(f"distill: {results['stop_reason']} after {results['epochs']} epochs "
          f"({results['steps']} steps); best {results['best_metric']} = {results['best_value']} "
          f"(epoch {results['best_epoch']}); student ({results['exported_from']}) -> "
          f"{results['student']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
