"""Collect scored experiments into a recipe's RESULTS.md.

    python -m ssltk.bin.results_table --expdir exp --out RESULTS.md

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (written by ``ssltk.bin.score``)
and each experiment's configuration (ssltk's or ESPnet's), and writes one
table per test set: a row per experiment with its upstream, featurizer, config file,
metrics and training time (``--reference EXP`` adds each row's last metric relative to
EXP's; ``--notes FILE`` appends a recipe's fixed notes); experiments named ``<name>_s<seed>`` (runs with several seeds) share one
row with the mean ± standard deviation over seeds (ssltk.results.downstream).
Every row is also kept in RESULTS.json beside the markdown file; rows of experiments no
longer under EXPDIR come back from it (each row shows its date when they differ), unless
``--fresh``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main
from ssltk.results.downstream import archive_path, collect, render, save_archive, with_archived


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="results_table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="directory holding the experiments")
    p.add_argument("--out", required=True, help="markdown file to write (RESULTS.md)")
    p.add_argument("--notes", default=None,
                   help="markdown appended after the tables (a recipe's fixed notes: set-ups, published numbers)")
    p.add_argument("--reference", default=None,
                   help="experiment whose last metric the other rows are divided by (e.g. ESPnet's CER)")
    p.add_argument("--fresh", action="store_true",
                   help="tables from EXPDIR only, without the earlier rows kept in the archive")
    args = p.parse_args(argv)
    archive = archive_path(args.out)
    tables = collect(args.expdir) if args.fresh else with_archived(collect(args.expdir), archive)
    if not tables:
        raise UserError(f"{args.expdir}: no scored experiments (*/decode_*/result.json)")
    text = render(tables, args.reference)
    if args.notes:
        try:
            text += "\n" + open(args.notes, encoding="utf-8").read()
        except OSError as err:
            raise UserError(f"--notes {args.notes}: {err.strerror}") from None
    save_archive(tables, archive)
    write_text_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
