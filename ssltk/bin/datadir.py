"""Kaldi-style data-directory utilities (behind the ``utils/*.sh`` wrappers).

    python -m ssltk.bin.datadir validate [--audio header|full|none] DIR
    python -m ssltk.bin.datadir fix DIR
    python -m ssltk.bin.datadir combine DEST SRC [SRC ...]
    python -m ssltk.bin.datadir subset (--utt-list F | --spk-list F | --first N | --last N | --num N) SRC DEST
    python -m ssltk.bin.datadir split [--per-speaker] DIR N
    python -m ssltk.bin.datadir split-scp [--utt2spk FILE] IN OUT1 [OUT2 ...]
    python -m ssltk.bin.datadir spk2utt [UTT2SPK]            (stdin when omitted)
    python -m ssltk.bin.datadir filter-scp [--exclude] [-f N] IDLIST [IN]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.data import ops
from ssltk.data.datadir import DataDirError, read_table, utt2spk_to_spk2utt, write_text_atomic
from ssltk.data.validate import AUDIO_CHECKS, validate_data_dir
from ssltk.errors import UserError, cli_main


def _read_lines(path: str | None) -> list[str]:
    if path in (None, "-"):
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not Path(path).is_file():
        raise DataDirError(f"{path}: no such file")
    return [line.rstrip("\n") for line in open(path, encoding="utf-8") if line.strip()]


def cmd_validate(args) -> int:
    problems = validate_data_dir(args.dir, audio=args.audio)
    for p in problems:
        print(f"validate_data_dir: {p}", file=sys.stderr)
    if problems:
        print(f"validate_data_dir: {args.dir}: FAILED ({len(problems)} problem(s) shown)",
              file=sys.stderr)
        return 1
    print(f"validate_data_dir: {args.dir}: OK", file=sys.stderr)
    return 0


def cmd_fix(args) -> int:
    ops.fix_data_dir(args.dir)
    return 0


def cmd_combine(args) -> int:
    n = ops.combine_data(args.dest, args.src)
    print(f"combine_data: wrote {n} utterances to {args.dest}", file=sys.stderr)
    return 0


def cmd_subset(args) -> int:
    per_label = None
    if args.per_label:
        table, n = args.per_label
        if not n.isdigit():
            raise UserError(f"--per-label {table} {n}: N must be a positive integer")
        per_label = (table, int(n))
    n = ops.subset_data_dir(args.src, args.dest, utt_list=args.utt_list, spk_list=args.spk_list,
                            first=args.first, last=args.last, num=args.num, per_label=per_label,
                            seed=args.seed)
    print(f"subset_data_dir: wrote {n} utterances to {args.dest}", file=sys.stderr)
    return 0


def cmd_split(args) -> int:
    for part in ops.split_data_dir(args.dir, args.n, per_speaker=args.per_speaker):
        print(part)
    return 0


def cmd_split_scp(args) -> int:
    lines = _read_lines(args.input)
    if args.utt2spk:
        parts = ops.split_by_speaker(lines, read_table(args.utt2spk, strict=False), len(args.outputs))
    else:
        parts = ops.split_lines(lines, len(args.outputs))
    for out, part in zip(args.outputs, parts):
        write_text_atomic(out, "".join(line + "\n" for line in part))
    return 0


def cmd_spk2utt(args) -> int:
    utt2spk = {}
    for line in _read_lines(args.utt2spk):
        fields = line.split()
        if len(fields) != 2:
            raise DataDirError(f"{args.utt2spk or 'stdin'}: expected '<utt> <speaker>', got '{line}'")
        utt2spk[fields[0]] = fields[1]
    for spk, utts in utt2spk_to_spk2utt(utt2spk).items():
        print(f"{spk} {utts}")
    return 0


def cmd_filter_scp(args) -> int:
    ids = {line.split()[0] for line in _read_lines(args.idlist)}
    for line in ops.filter_lines(ids, _read_lines(args.input), args.field, args.exclude):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssltk.bin.datadir", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a data directory")
    p.add_argument("--audio", choices=AUDIO_CHECKS, default="header",
                   help="header: read headers (no pipes); full: decode all audio; none: skip")
    p.add_argument("dir")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("fix", help="sort tables, drop utterances missing from any of them")
    p.add_argument("dir")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("combine", help="concatenate data directories")
    p.add_argument("dest")
    p.add_argument("src", nargs="+")
    p.set_defaults(func=cmd_combine)

    p = sub.add_parser("subset", help="copy a subset of a data directory")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--utt-list")
    group.add_argument("--spk-list")
    group.add_argument("--first", type=int)
    group.add_argument("--last", type=int)
    group.add_argument("--num", type=int, help="N utterances evenly spaced")
    group.add_argument("--per-label", nargs=2, metavar=("TABLE", "N"),
                       help="N random utterances of every value of TABLE (e.g. utt2category 5)")
    p.add_argument("--seed", type=int, default=0, help="--per-label: random seed")
    p.add_argument("src")
    p.add_argument("dest")
    p.set_defaults(func=cmd_subset)

    p = sub.add_parser("split", help="split a data dir into DIR/split<N>utt/{1..N}")
    p.add_argument("--per-speaker", action="store_true",
                   help="keep each speaker in one part (DIR/split<N>/{1..N})")
    p.add_argument("dir")
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("split-scp", help="split a table into N contiguous parts")
    p.add_argument("--utt2spk", help="keep each speaker's lines in one part")
    p.add_argument("input")
    p.add_argument("outputs", nargs="+")
    p.set_defaults(func=cmd_split_scp)

    p = sub.add_parser("spk2utt", help="utt2spk -> spk2utt on stdout")
    p.add_argument("utt2spk", nargs="?")
    p.set_defaults(func=cmd_spk2utt)

    p = sub.add_parser("filter-scp", help="keep lines whose id is in IDLIST")
    p.add_argument("--exclude", action="store_true", help="keep lines whose id is NOT in IDLIST")
    p.add_argument("-f", "--field", type=int, default=1, help="1-based field holding the id")
    p.add_argument("idlist")
    p.add_argument("input", nargs="?")
    p.set_defaults(func=cmd_filter_scp)
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
