"""Collect scored experiments into a recipe's RESULTS.md.

    python -m ssltk.bin.results_table --expdir exp --out RESULTS.md

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (written by ``ssltk.bin.score``)
and ``EXPDIR/<exp>/config.yaml`` (written by the trainer), and writes one
table per test set: a row per experiment with its upstream, featurizer and
metrics; experiments named ``<name>_s<seed>`` (runs with several seeds) share one
row with the mean ± standard deviation over seeds (ssltk.results.downstream).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main
from ssltk.results.downstream import collect, render


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="results_table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="directory holding the experiments")
    p.add_argument("--out", required=True, help="markdown file to write (RESULTS.md)")
    args = p.parse_args(argv)
    tables = collect(args.expdir)
    if not tables:
        raise UserError(f"{args.expdir}: no scored experiments (*/decode_*/result.json)")
    write_text_atomic(args.out, render(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
