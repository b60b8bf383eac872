"""Kaldi-style data-directory utilities (behind the ``utils/*.sh`` wrappers).

    python -m ssltk.bin.datadir validate [--audio header|full|none] DIR
    python -m ssltk.bin.datadir fix DIR
    python -m ssltk.bin.datadir combine DEST SRC [SRC ...]
    python -m ssltk.bin.datadir subset (--utt-list F | --spk-list F | --first N | --last N | --num N) SRC DEST
    python -m ssltk.bin.datadir split [--per-speaker] DIR N
    python -m ssltk.bin.datadir speed-perturb FACTOR SRC DEST
    python -m ssltk.bin.datadir split-scp [--utt2spk FILE] IN OUT1 [OUT2 ...]
    python -m ssltk.bin.datadir spk2utt [UTT2SPK]            (stdin when omitted)
    python -m ssltk.bin.datadir filter-scp [--exclude] [-f N] IDLIST [IN]

Engines: ssltk.data.ops, ssltk.data.scp, ssltk.data.validate.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.data import ops, scp
from ssltk.data.validate import AUDIO_CHECKS, validate_data_dir
from ssltk.errors import UserError, cli_main


def validate(args) -> int:
    problems = validate_data_dir(args.dir, audio=args.audio)
    for p in problems:
        print(f"validate_data_dir: {p}", file=sys.stderr)
    verdict = f"FAILED ({len(problems)} problem(s) shown)" if problems else "OK"
    print(f"validate_data_dir: {args.dir}: {verdict}", file=sys.stderr)
    return 1 if problems else 0


def subset(args) -> int:
    table, n = args.per_label or (None, "0")
    if not n.isdigit():
        raise UserError(f"--per-label {table} {n}: N must be a positive integer")
    n = ops.subset_data_dir(args.src, args.dest, utt_list=args.utt_list, spk_list=args.spk_list,
                            first=args.first, last=args.last, num=args.num, seed=args.seed,
                            per_label=(table, int(n)) if table else None)
    print(f"subset_data_dir: wrote {n} utterances to {args.dest}", file=sys.stderr)
    return 0


def fix(args) -> int:
    ops.fix_data_dir(args.dir)
    return 0


def combine(args) -> int:
    n = ops.combine_data(args.dest, args.src)
    print(f"combine_data: wrote {n} utterances to {args.dest}", file=sys.stderr)
    return 0


def printed(lines) -> int:
    for line in lines:
        print(line)
    return 0


COMMANDS = {  # name: (help, [(flags, add_argument options)], action)
    "validate": ("check a data directory", [
        (["--audio"], dict(choices=AUDIO_CHECKS, default="header",
                           help="header: read headers (no pipes); full: decode all audio; none: skip")),
        (["dir"], {})], validate),
    "fix": ("sort tables, drop utterances missing from any of them", [(["dir"], {})],
            fix),
    "combine": ("concatenate data directories", [(["dest"], {}), (["src"], dict(nargs="+"))], combine),
    "subset": ("copy a subset of a data directory", [
        (["--seed"], dict(type=int, default=0, help="--per-label: random seed")),
        (["src"], {}), (["dest"], {})], subset),
    "split": ("split a data dir into DIR/split<N>utt/{1..N}", [
        (["--per-speaker"], dict(action="store_true", help="keep each speaker in one part (DIR/split<N>/{1..N})")),
        (["dir"], {}), (["n"], dict(type=int))],
        lambda a: printed(ops.split_data_dir(a.dir, a.n, per_speaker=a.per_speaker))),
    "speed-perturb": ("a copy played FACTOR times faster (audio written to DEST/wav)", [
        (["factor"], dict(type=float)), (["src"], {}), (["dest"], {})],
        lambda a: print(f"speed_perturb: wrote {ops.speed_perturb_data_dir(a.src, a.dest, a.factor)} "
                        f"utterances to {a.dest}", file=sys.stderr) or 0),
    "split-scp": ("split a table into N contiguous parts", [
        (["--utt2spk"], dict(help="keep each speaker's lines in one part")),
        (["input"], {}), (["outputs"], dict(nargs="+"))],
        lambda a: scp.split_scp(a.input, a.outputs, a.utt2spk) or 0),
    "spk2utt": ("utt2spk -> spk2utt on stdout", [(["utt2spk"], dict(nargs="?"))],
                lambda a: printed(scp.spk2utt_lines(a.utt2spk))),
    "filter-scp": ("keep lines whose id is in IDLIST", [
        (["--exclude"], dict(action="store_true", help="keep lines whose id is NOT in IDLIST")),
        (["-f", "--field"], dict(type=int, default=1, help="1-based field holding the id")),
        (["idlist"], {}), (["input"], dict(nargs="?"))],
        lambda a: printed(scp.filter_scp(a.idlist, a.input, a.field, a.exclude))),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssltk.bin.datadir", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (text, arguments, action) in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        if name == "subset":
            group = p.add_mutually_exclusive_group(required=True)
            for flag in ("--utt-list", "--spk-list"):
                group.add_argument(flag)
            for flag, what in (("--first", None), ("--last", None), ("--num", "N utterances evenly spaced")):
                group.add_argument(flag, type=int, help=what)
            group.add_argument("--per-label", nargs=2, metavar=("TABLE", "N"),
                               help="N random utterances of every value of TABLE (e.g. utt2category 5)")
        for flags, options in arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(func=action)
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
