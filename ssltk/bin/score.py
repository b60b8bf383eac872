"""Score hypotheses against references.

    python -m ssltk.bin.score --task asr --ref data/test/text --hyp DECODE/hyp --out DECODE/result.txt
    python -m ssltk.bin.score --task asr --units phone --ref data/test/text.phn --hyp DECODE/hyp --out ...
    python -m ssltk.bin.score --task cs --ref data/test/text --hyp DECODE/hyp \\
        --lang-tags data/test/text.lang --out DECODE/result.txt
    python -m ssltk.bin.score --task cls [--intent] --ref data/test/utt2intent \\
        --hyp DECODE/predictions --out DECODE/result.txt

``asr``: error rates in ``--units`` (default ``word,char``: WER and CER with
``<space>`` as a character; ``phone``: PER without the ``|`` word boundaries of
text.phn).  ``cs``: mixed error rate (WER over all words), CER, and the WER of
each language from word-level language tags.  ``cls``: accuracy (``--intent``:
also scenario and action accuracy, intent = scenario_action).  Writes the
report to ``--out`` and the numbers to the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.data.datadir import read_table, write_json, write_text_atomic
from ssltk.errors import UserError, cli_main
from ssltk.metrics.edit_distance import UNITS, check_same_utts
from ssltk.metrics.scoring import score_asr, score_classification, score_codeswitch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=("asr", "cs", "cls"))
    p.add_argument("--ref", required=True, help="reference table (text, text.phn, utt2category, ...)")
    p.add_argument("--hyp", required=True, help="hypothesis table (hyp, predictions)")
    p.add_argument("--out", required=True, help="report file; numbers go to <out>.json")
    p.add_argument("--units", default="word,char", help="asr: comma-separated word, char, phone")
    p.add_argument("--lang-tags", "--lang_tags", dest="lang_tags", default=None,
                   help="cs: word-level language tags (text.lang)")
    p.add_argument("--intent", action="store_true", help="cls: scenario/action accuracy too")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    refs, hyps = read_table(args.ref), read_table(args.hyp)
    check_same_utts(refs, hyps, args.ref, args.hyp)
    header = f"# ssltk score ({args.task})\n\nref: {args.ref}\nhyp: {args.hyp}\n\n"
    if args.task == "cls":
        text, numbers = score_classification(refs, hyps, args.intent, header)
    elif args.task == "cs":
        if not args.lang_tags:
            raise UserError("--task cs needs --lang-tags (the text.lang table)")
        tags = read_table(args.lang_tags)
        missing = [u for u in refs if u not in tags]
        if missing:
            raise UserError(f"utterance '{missing[0]}' of {args.ref} is missing from {args.lang_tags}")
        text, numbers = score_codeswitch(refs, hyps, tags, header)
    else:
        units = [u.strip() for u in args.units.split(",") if u.strip()]
        bad = [u for u in units if u not in UNITS]
        if bad or not units:
            raise UserError(f"--units: unknown unit(s) {bad} (choose from {', '.join(UNITS)})")
        text, numbers = score_asr(refs, hyps, units, header)
    out = Path(args.out)
    write_text_atomic(out, text)
    write_json(out.with_suffix(".json"), {"task": args.task, "ref": args.ref, "hyp": args.hyp, **numbers})
    summary = " ".join(f"{k}={v}" for k, v in numbers["metrics"].items())
    print(f"score: {summary} ({len(refs)} utterances) -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
