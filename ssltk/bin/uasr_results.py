"""Collect UASR experiments into a recipe's RESULTS.md.

    python -m ssltk.bin.uasr_results --expdir exp --out RESULTS.md [--note "..."]

For every ``EXPDIR/<exp>/`` with a ``results.json`` (``ssltk.bin.uasr_train``) it reads
the validation history (``valid/weighted_lm_ppl`` and ``valid/per`` at every
checkpoint) and ``decode_<set>/score.json`` (``ssltk.bin.uasr_infer`` with the checkpoint
chosen by ``weighted_lm_ppl``).  Tables: PER per system (runs named ``<system>_s<seed>``
merged into mean ± std), the majority-phone baseline, every run with its selected
checkpoint, and the Spearman correlation between ``weighted_lm_ppl`` and PER over the
checkpoints of each run and over all of them pooled (ssltk.results.uasr).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import cli_main
from ssltk.results.uasr import collect, render


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="directory of experiments")
    p.add_argument("--out", required=True, help="RESULTS.md to write")
    p.add_argument("--note", default="", help="a paragraph under the title (the setup)")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    text = render(collect(args.expdir), args.note, args.expdir.rstrip("/"))
    write_text_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
