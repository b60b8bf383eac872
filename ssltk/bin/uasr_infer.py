"""Decode speech with a trained UASR generator; score it when references are given.

    python -m ssltk.bin.uasr_infer --exp exp/gan_s0 --feats dump/fbank/test_nosil \\
        --out exp/gan_s0/decode_test [--data data/test_nosil] [--checkpoint 12epoch.pth] \\
        [--posteriors]

Writes ``hyp.phn`` (phone transcripts), ``units`` (best phone id per generator frame),
``segments.ctm`` (phone runs, ``<SIL>`` included; on the original audio's times when
``--data`` has ``vad_intervals``), with ``--posteriors`` ``posteriors/``: a feature dump of
phone posteriorgrams whose upstream is the experiment (``ssltk.hub.load`` computes the
same from audio; downstream tasks take the dump as precomputed features), and with
``--data`` holding ``text.phn`` ``score.json`` / ``result.txt`` (PER, and the
majority-phone baseline).  Details: ``ssltk.uasr.infer``.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="experiment dir of ssltk.bin.uasr_train")
    p.add_argument("--feats", required=True, help="feature dump to decode")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data", default=None,
                   help="data dir of the same utterances (text.phn to score, vad_intervals)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file in EXP (default: the best by valid/weighted_lm_ppl)")
    p.add_argument("--posteriors", action="store_true", help="also dump phone posteriorgrams")
    p.add_argument("--batch_size", type=int, default=64)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.uasr.infer import infer

    score = infer(args.exp, args.feats, args.out, data=args.data, checkpoint=args.checkpoint,
                  posteriors=args.posteriors, batch_size=args.batch_size)
    print(f"uasr_infer: decoded {args.feats} -> {args.out}", file=sys.stderr)
    if score is not None:
        print(f"uasr_infer: PER {score['per']:.2f}% ({score['err']}/{score['wrd']}); "
              f"majority-phone baseline ({score['majority_phone']}) {score['majority_per']:.2f}%",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
