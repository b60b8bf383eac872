"""Prepare the text side of unsupervised ASR (wav2vec-U): phones, silences, phone LM.

    python -m ssltk.bin.uasr_text --text corpus/text_only/text.txt --out dump/uasr/text
    python -m ssltk.bin.uasr_text --phones corpus/text_only/text.phn --out dump/uasr/text

Writes into OUT: ``phones.txt`` (inventory, ``<phone> <count>``, ``<SIL>`` included; its
order is the generator's output order), ``lm.phones.txt`` (one ``<SIL>``-inserted phone
sequence per line: the GAN's real samples), ``words.phn`` (phones without silences,
`` | `` between words), ``lm.phones.<order>.arpa`` (interpolated modified Kneser-Ney
LM on ``lm.phones.txt``) and ``text_info.json``. Deterministic for given inputs and
options; every file is written atomically (ssltk.uasr.text.prepare_text).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import UserError, cli_main
from ssltk.uasr.text import phonemize, prepare_text, read_phone_lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_text", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", default=None, help="sentences, one per line (phonemised with espeak-ng)")
    p.add_argument("--phones", default=None,
                   help="precomputed phone lines (words separated by '|'), e.g. text_only/text.phn")
    p.add_argument("--phones_with_utt", action="store_true",
                   help="--phones lines start with an utterance id (data dir text.phn)")
    p.add_argument("--language", default="en-us", help="espeak-ng language for --text")
    p.add_argument("--sil_prob", type=float, default=0.5, help="probability of <SIL> between words")
    p.add_argument("--min_phone_count", type=int, default=1,
                   help="drop phones seen fewer times and their sentences (fairseq: 1000 on LibriSpeech LM text)")
    p.add_argument("--lm_order", type=int, default=4, help="phone LM order")
    p.add_argument("--seed", type=int, default=0, help="seed of silence insertion")
    p.add_argument("--nj", type=int, default=1, help="phonemisation processes")
    p.add_argument("--out", required=True, help="output directory")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.text and not args.phones:
        raise UserError("give --text and/or --phones")
    if not 0.0 <= args.sil_prob <= 1.0:
        raise UserError(f"--sil_prob must be in [0, 1], got {args.sil_prob}")
    if args.min_phone_count < 1 or args.lm_order < 1 or args.nj < 1:
        raise UserError("--min_phone_count, --lm_order and --nj must be >= 1")
    sentences = []
    if args.text:
        with open(args.text, encoding="utf-8") as f:
            sentences += phonemize([line for line in f if line.strip()], args.language, nj=args.nj)
    if args.phones:
        sentences += read_phone_lines(args.phones, with_utt=args.phones_with_utt)
    info = prepare_text(sentences, args.out, sil_prob=args.sil_prob, seed=args.seed,
                        min_phone_count=args.min_phone_count, lm_order=args.lm_order)
    print(f"uasr_text: {info['sentences_kept']}/{info['sentences_in']} sentences, "
          f"{info['inventory_size']} phones, {args.lm_order}-gram LM perplexity "
          f"{info['lm_train_perplexity']:.2f} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
