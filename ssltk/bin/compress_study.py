"""The stages of a compression study (ssltk.compress.study; egs2/TEMPLATE/compress1):

    python -m ssltk.bin.compress_study make --source ssltk_mini --out exp/upstreams \\
        --spec weights:0.5 [--data data/dev]            # one compressed upstream
    python -m ssltk.bin.compress_study continued --out exp/upstreams --tag weights0.5 \
        --upstream exp/continue_weights0.5/upstream.pt    # after continued pre-training
    python -m ssltk.bin.compress_study cost --upstreams exp/upstreams --data data/test
    python -m ssltk.bin.compress_study table --upstreams exp/upstreams --expdir exp \\
        --task digit=test:acc --task phones=test_phn:per --out RESULTS.md

Specs: none, weights:S, heads:N, ffn:F, skip:T, fixed:F@L, int8, bf16, upstream:NAME_OR_PATH.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ssltk.bin.compress_study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make", help="write one compressed upstream and record it")
    make.add_argument("--source", required=True, help="hub name or checkpoint of the upstream to compress")
    make.add_argument("--spec", required=True, help="the compression (see above)")
    make.add_argument("--out", required=True, help="directory of the study's upstreams")
    make.add_argument("--data", help="skip:T: data dir whose first --utts utterances are measured")
    make.add_argument("--utts", type=int, default=8)
    cont = sub.add_parser("continued", help="point a recorded upstream at its continued pre-trained version")
    cont.add_argument("--out", required=True, help="directory of the study's upstreams")
    cont.add_argument("--tag", required=True)
    cont.add_argument("--upstream", required=True, help="the continued checkpoint")
    tags = sub.add_parser("tags", help="check specs and print their tags, one per line")
    tags.add_argument("specs", nargs="+")
    cost = sub.add_parser("cost", help="measure every recorded upstream (cost.yaml)")
    cost.add_argument("--upstreams", required=True)
    cost.add_argument("--data", help="data dir whose first --utts utterances are timed (default: a 4 s probe)")
    cost.add_argument("--utts", type=int, default=16)
    cost.add_argument("--runs", type=int, default=5, help="timed rounds (medians)")
    cost.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    table = sub.add_parser("table", help="write RESULTS.md")
    table.add_argument("--upstreams", required=True)
    table.add_argument("--expdir", required=True, help="directory of the downstream experiments")
    table.add_argument("--task", action="append", required=True, metavar="NAME=SET:METRIC")
    table.add_argument("--out", required=True)
    table.add_argument("--notes", help="markdown appended after the table")
    args = p.parse_args(argv)

    from pathlib import Path

    from ssltk.compress import audio_batch
    from ssltk.compress.study import check_spec, make as make_upstream, measure, read_manifest, record_continued, tag_of
    from ssltk.results.compression import COST_FILE, parse_task, render

    if args.command == "make":
        check_spec(args.spec)
        audio = None
        if args.spec.startswith("skip:"):
            from ssltk import hub

            audio = audio_batch(args.data, args.utts, hub.load(args.source).sample_rate)
        entry = make_upstream(args.source, args.spec, args.out, audio)
        print(f"compress_study: {entry.tag}: {entry.description} -> {entry.upstream}")
    elif args.command == "continued":
        entry = record_continued(args.out, args.tag, args.upstream)
        print(f"compress_study: {entry.tag}: {entry.description} -> {entry.upstream}")
    elif args.command == "tags":
        print("\n".join(tag_of(spec) for spec in args.specs))
    elif args.command == "cost":
        import torch

        torch.set_num_threads(args.threads)
        entries = read_manifest(args.upstreams)
        wavs, lens = audio_batch(args.data, args.utts, 16000)
        rows = measure(entries, wavs, lens, args.runs)
        write_text_atomic(Path(args.upstreams) / COST_FILE, yaml.safe_dump(rows, sort_keys=False))
        for row in rows:
            speed = f"{row['speedup']:.2f}x" if row["speedup"] else "-"
            print(f"{row['tag']}: {row['nonzero']:,} non-zero parameters, {row['macs'] / 1e6:.1f}M MACs/s, "
                  f"{row['seconds']:.3f} s ({speed})")
    else:
        text = render(args.upstreams, args.expdir, [parse_task(t) for t in args.task])
        if args.notes:
            try:
                text += "\n" + Path(args.notes).read_text(encoding="utf-8")
            except OSError as err:
                raise UserError(f"--notes {args.notes}: {err.strerror}") from None
        write_text_atomic(args.out, text)
        print(f"compress_study: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
