"""Trainable parameters of each efficient-use method on an upstream:
``python -m ssltk.bin.peft_params [UPSTREAM]`` (default: hubert_base, random weights).

Rows: the weighted sum, Houlsby adapters, AdapterBias, BitFit, LoRA, prefix and prompt
tuning in their default configurations (`ssltk.peft.counts.DEFAULT_METHODS`), and full
fine-tuning.  The downstream head is not counted.
"""

from __future__ import annotations

import argparse

from ssltk.errors import cli_main
from ssltk.peft.counts import parameter_table


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssltk.bin.peft_params", description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", nargs="?", default="hubert_base", help="registry name or checkpoint path")
    args = parser.parse_args(argv)
    rows = parameter_table(args.upstream)
    print(f"| method | configuration | trainable parameters ({args.upstream}) |")
    print("|---|---|---:|")
    for method, config, count in rows:
        shown = f"{count / 1e6:.3f}M ({count:,})" if count >= 1000 else str(count)
        print(f"| {method} | {config} | {shown} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
