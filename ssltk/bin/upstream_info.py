"""Describe upstreams: ``python -m ssltk.bin.upstream_info --list | NAME | PATH [--conf K=V ...]``.

For a name or checkpoint it prints the number of layers, hidden size, parameters, frame
rate and multiply-accumulates (MACs) per second of audio. MACs are counted analytically
for one 1 s utterance: convolutions (frontend and positional), linear layers (feature
projection, q/k/v/out projections, feed-forward, WavLM's gate) and the two attention
products (``QK^T`` and ``AV``: ``2 T^2 D`` per layer). Norms, activations, softmax and
the relative-position lookup are not counted. fbank/MFCC count a real FFT as
``2 N log2 N``, the Mel filterbank matmul and the DCT.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from ssltk import hub
from ssltk.errors import UserError, cli_main


def human(count: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f}{unit}"
    return f"{count:.0f}"


def cost(upstream) -> tuple[int, int]:
    """``(parameters, MACs per second of audio)`` of an upstream."""
    return sum(p.numel() for p in upstream.parameters()), upstream.macs(upstream.sample_rate)


def describe_upstream(name_or_path: str, **overrides) -> str:
    """Multi-line summary of one upstream (``overrides``: as for ``hub.load``)."""
    upstream = hub.load(name_or_path, **overrides)
    params, macs = cost(upstream)
    lines = [
        f"upstream:        {name_or_path}",
        f"type:            {type(upstream).__name__}" + (
            f" ({upstream.config.family})" if hasattr(upstream.config, "family") else ""
        ),
        f"layers:          {upstream.num_layers} ({upstream.num_layers + 1} hidden states)",
        f"hidden size:     {upstream.hidden_size}",
        f"parameters:      {params} ({human(params)})",
        f"sample rate:     {upstream.sample_rate} Hz",
        f"downsample rate: {upstream.downsample_rate} samples/frame",
        f"frame rate:      {upstream.frame_rate:g} Hz",
        f"MACs / s audio:  {macs} ({human(macs)})",
    ]
    return "\n".join(lines)


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
