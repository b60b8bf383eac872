"""Describe upstreams: ``python -m ssltk.bin.upstream_info --list | NAME | PATH [--conf K=V ...]``.

For a name or checkpoint it prints the number of layers, hidden size, parameters, frame
rate and multiply-accumulates (MACs) per second of audio (counted as in ssltk.metrics.cost).
"""

from __future__ import annotations

import argparse
import sys

import yaml

from ssltk import hub
from ssltk.errors import UserError, cli_main
from ssltk.metrics.cost import describe_upstream


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssltk.bin.upstream_info", description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", nargs="?", help="registry name or checkpoint path")
    parser.add_argument("--list", action="store_true", help="list registry names")
    parser.add_argument("--conf", nargs="+", default=[], metavar="KEY=VALUE",
                        help="architecture overrides (YAML values), e.g. num_layers=4 hidden_size=192")
    args = parser.parse_args(argv)
    if args.list:
        width = max(len(name) for name in hub.list_upstreams())
        for name in hub.list_upstreams():
            print(f"{name:<{width}}  {hub.describe(name)}")
        return 0
    if not args.upstream:
        parser.error("give a registry name or checkpoint path, or --list")
    overrides = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--conf {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    print(describe_upstream(args.upstream, **overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
