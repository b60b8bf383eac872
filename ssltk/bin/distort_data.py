"""Write a distorted copy of a data directory, for evaluation under a distortion.

    python -m ssltk.bin.distort_data [--config distort.yaml] (--name NAME | --kind KIND)
        [--snr 5] [--files DIR] [other parameters] [--seed N] [--force] SRC DEST

``--name`` takes a distortion of the config (defined under ``distortions``, or a kind with
its defaults); ``--kind`` starts from the config's distortion named like the kind when
there is one, else from the kind's defaults.  Parameter options override either; values
are YAML: ``--snr 5``, ``--snr [0,20]``, ``--mu_law false``, ``--files [a.wav,b.wav]``.
The seed and sample rate default to the config's (else 0 and 16000).  A second run with
the same settings does nothing; other settings are an error unless ``--force``.
Engine: ``ssltk.distort.datadir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap

import yaml

from ssltk.distort import KINDS, DistortionConfig, DistortionSetConfig, distort_data_dir, load_distortions
from ssltk.errors import UserError, cli_main
from ssltk.train.config import config_from_dict, config_to_dict

PARAMS = [f.name for f in dataclasses.fields(DistortionConfig) if f.name not in ("kind", "name")]


def kinds_help() -> str:
    lines = ["kinds [parameter defaults]:"]
    for kind in KINDS.values():
        defaults = ", ".join(f"{k}={v}" for k, v in kind.params.items()) or "no parameters"
        lines.append(textwrap.fill(f"{kind.name}: {kind.help} [{defaults}]", 100, initial_indent="  ",
                                   subsequent_indent="      "))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distort_data", description=__doc__, epilog=kinds_help(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="distortion file (seed, sample_rate, distortions, seen, unseen)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="a distortion of --config, by name")
    which.add_argument("--kind", help=f"a distortion kind: {', '.join(KINDS)}")
    p.add_argument("--seed", type=int, help="seed of the draws (default: the config's, else 0)")
    p.add_argument("--sample_rate", type=int, help="output rate in Hz (default: the config's, else 16000)")
    p.add_argument("--force", action="store_true", help="replace a copy made with other settings")
    for name in PARAMS:
        users = [k.name for k in KINDS.values() if name in k.params]
        p.add_argument(f"--{name}", metavar="V", help=f"parameter of {', '.join(users)}")
    p.add_argument("src", help="source data directory")
    p.add_argument("dest", help="output data directory")
    return p


def _value(text: str, option: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"--{option} {text}: not a YAML value ({e})") from None


def choose(args, cfg: DistortionSetConfig, source: str) -> DistortionConfig:
    """The distortion named by --name / --kind, with the parameter options applied."""
    if args.name:
        try:
            data = config_to_dict(cfg.entry(args.name))
        except KeyError as e:
            raise UserError(f"{source}: {e.args[0]}") from None
    else:
        defined = [d for d in cfg.distortions if d.label == args.kind]
        data = config_to_dict(defined[0]) if defined else {"kind": args.kind}
        if data["kind"] != args.kind:
            raise UserError(f"{source}: the distortion named {args.kind!r} is of kind {data['kind']!r}; "
                            f"use --name {args.kind}")
    data = {k: v for k, v in data.items() if v is not None}
    data.update({k: _value(getattr(args, k), k) for k in PARAMS if getattr(args, k) is not None})
    return config_from_dict(data, DistortionConfig, source=f"{source}, distortion {args.name or args.kind}")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_distortions(args.config) if args.config else DistortionSetConfig()
    distortion = choose(args, cfg, args.config or "command line")
    seed = cfg.seed if args.seed is None else args.seed
    distort_data_dir(args.src, args.dest, distortion, seed, args.sample_rate or cfg.sample_rate, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
