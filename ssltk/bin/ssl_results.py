"""Summarise an SSL pre-training recipe (egs2/TEMPLATE/ssl1/ssl.sh) into RESULTS.md.

    python -m ssltk.bin.ssl_results --expdir exp --train_set train --valid_set dev --out RESULTS.md

Reads, where present:
``EXPDIR/km{1,2}/<set>/km_score.json`` and ``km_info.yaml`` (``ssltk.bin.kmeans score`` / ``label``),
``EXPDIR/pretrain{1,2}/results.json`` and ``EXPDIR/distill/results.json`` (the trainer's summaries),
and writes three tables: k-means label quality (PNMI, phone and cluster purity per set),
pre-training (best and final ``valid/acc_m``), distillation (best and final ``valid/loss``).
A missing step shows as ``-``; an empty experiment directory is an error (ssltk.results.ssl_pretraining).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import cli_main
from ssltk.results.ssl_pretraining import collect, render


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ssl_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="the recipe's experiment directory")
    p.add_argument("--train_set", "--train-set", required=True)
    p.add_argument("--valid_set", "--valid-set", required=True)
    p.add_argument("--out", required=True, help="markdown file to write (RESULTS.md)")
    args = p.parse_args(argv)
    text = render(collect(args.expdir, [args.train_set, args.valid_set]), args.expdir)
    out = Path(args.out)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:  # unchanged: not rewritten
        write_text_atomic(out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
