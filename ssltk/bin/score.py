"""Score hypotheses against references.

    python -m ssltk.bin.score --exp EXP --data data/test --decode EXP/decode_test --out EXP/decode_test/result.txt
    python -m ssltk.bin.score --task asr --ref data/test/text --hyp DECODE/hyp --out DECODE/result.txt
    python -m ssltk.bin.score --task asr --units phone --ref data/test/text.phn --hyp DECODE/hyp --out ...
    python -m ssltk.bin.score --task cs --ref data/test/text --hyp DECODE/hyp \\
        --lang-tags data/test/text.lang --out DECODE/result.txt
    python -m ssltk.bin.score --task cls [--intent] --ref data/test/utt2intent \\
        --hyp DECODE/predictions --out DECODE/result.txt

With ``--exp``, the experiment's task chooses the reference table of ``--data``, the
hypotheses of ``--decode`` and its options (the flags below override them).  ``asr``:
error rates in ``--units`` (``word,char``: WER and CER with ``<space>`` as a character;
``phone``: PER without the ``|`` word boundaries of text.phn).  ``cs``: mixed error rate,
CER, and the WER of each language from word-level language tags.  ``cls``: accuracy
(``--intent``: also scenario and action accuracy).  ``frame_reg``: RMSE and correlation;
``frame_cls``: frame accuracy (both: ``--mask`` scores only the 1-frames of a 0/1 track).
Writes the report to ``--out`` and the numbers to the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", default=None, help="a trained experiment (with --data, --decode)")
    p.add_argument("--data", default=None, help="--exp: the data dir holding the references")
    p.add_argument("--decode", default=None, help="--exp: the decode dir (ssltk.bin.infer)")
    p.add_argument("--task", default=None, help="without --exp: the task of --ref/--hyp")
    p.add_argument("--ref", default=None, help="reference table (text, text.phn, utt2category, ...)")
    p.add_argument("--hyp", default=None, help="hypothesis table (hyp, predictions)")
    p.add_argument("--out", required=True, help="report file; numbers go to <out>.json")
    p.add_argument("--units", default=None, help="asr: comma-separated word, char, phone")
    p.add_argument("--lang-tags", "--lang_tags", dest="lang_tags", default=None,
                   help="cs: word-level language tags (text.lang)")
    p.add_argument("--intent", action="store_true", default=None, help="cls: scenario/action accuracy too")
    p.add_argument("--mask", default=None,
                   help="frame_reg, frame_cls: a 0/1 track (vuv.scp); only its 1-frames are scored")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.tasks.experiment import score, score_decoded

    options = {"units": args.units, "lang_tags": args.lang_tags, "intent": args.intent, "mask": args.mask}
    if args.exp is not None:
        if not (args.data and args.decode) or args.task or args.ref or args.hyp:
            raise UserError("--exp takes --data and --decode (not --task, --ref, --hyp)")
        numbers = score_decoded(args.exp, args.data, args.decode, args.out, options)
    else:
        if not (args.task and args.ref and args.hyp):
            raise UserError("give --exp, --data and --decode, or --task, --ref and --hyp")
        numbers = score(args.task, args.ref, args.hyp, args.out, options)
    summary = " ".join(f"{k}={v}" for k, v in numbers["metrics"].items())
    print(f"score: {summary} ({numbers.get('utterances')} utterances) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
