"""Prepare the text side of unsupervised ASR (wav2vec-U): phones, silences, phone LM.

    python -m ssltk.bin.uasr_text --text corpus/text_only/text.txt --out dump/uasr/text
    python -m ssltk.bin.uasr_text --phones corpus/text_only/text.phn --out dump/uasr/text

Writes into OUT: ``phones.txt`` (inventory, ``<phone> <count>``, ``<SIL>`` included; its
order is the generator's output order), ``lm.phones.txt`` (one ``<SIL>``-inserted phone
sequence per line: the GAN's real samples), ``words.phn`` (phones without silences,
`` | `` between words), ``lm.phones.<order>.arpa`` (interpolated modified Kneser-Ney
LM on ``lm.phones.txt``) and ``text_info.json``. Deterministic for given inputs and
options; every file is written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ssltk.data.datadir import write_json, write_text_atomic
from ssltk.errors import UserError, cli_main
from ssltk.uasr.lm import ArpaLM, train_ngram, write_arpa
from ssltk.uasr.text import (SIL, insert_silences, phonemize, prune_rare_phones, read_phone_lines,
                             words_line, write_phone_inventory)


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
            lines = [line for line in f if line.strip()]
        sentences += phonemize(lines, args.language, nj=args.nj)
    if args.phones:
        sentences += read_phone_lines(args.phones, with_utt=args.phones_with_utt)
    num_in = len(sentences)
    kept, counts, pruned, dropped = prune_rare_phones(sentences, args.min_phone_count)
    if not kept:
        raise UserError(f"every sentence has a phone seen fewer than {args.min_phone_count} times")
    rng = np.random.default_rng(args.seed)
    lm_lines = [insert_silences(s, args.sil_prob, rng) for s in kept]
    counts[SIL] = sum(line.count(SIL) for line in lm_lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_phone_inventory(out / "phones.txt", counts)
    write_text_atomic(out / "lm.phones.txt", "".join(" ".join(s) + "\n" for s in lm_lines))
    write_text_atomic(out / "words.phn", "".join(words_line(s) + "\n" for s in kept))
    arpa = out / f"lm.phones.{args.lm_order}.arpa"
    write_arpa(train_ngram(lm_lines, args.lm_order), arpa)
    ppl = ArpaLM.read(arpa).perplexity(lm_lines)
    write_json(out / "text_info.json", {
        "sentences_in": num_in, "sentences_kept": len(kept), "sentences_dropped": dropped,
        "pruned_phones": pruned, "min_phone_count": args.min_phone_count,
        "inventory_size": len(counts), "seed": args.seed, "sil_prob": args.sil_prob,
        "lm_order": args.lm_order, "lm_train_perplexity": round(ppl, 4),
    })
    print(f"uasr_text: {len(kept)}/{num_in} sentences, {len(counts)} phones, "
          f"{args.lm_order}-gram LM perplexity {ppl:.2f} -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
