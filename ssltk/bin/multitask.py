"""Multi-task fine-tuning of one upstream (``ssltk.tasks.multitask``):

    python -m ssltk.bin.multitask --config conf/multitask.yaml --exp exp/multitask

trains every task of the config at once, then writes the shared upstream of the best
checkpoint to ``EXP/upstream.pt`` (use it as ``--upstream`` of any recipe).  Rerunning the
same command continues from ``EXP/checkpoint.pt``; ``--override key.path=value`` changes
the config.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ssltk.bin.multitask", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (trainer, frontend, data, tasks)")
    p.add_argument("--exp", required=True, help="experiment directory")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. trainer.max_steps=100")
    args = p.parse_args(argv)
    from ssltk.tasks.multitask import UPSTREAM_FILE, train

    results = train(args.config, args.exp, args.override)
    print(f"multitask: {results['stop_reason']} after {results['steps']} updates; best "
          f"{results['best_metric']} = {results['best_value']} (epoch {results['best_epoch']}); "
          f"upstream: {args.exp}/{UPSTREAM_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
