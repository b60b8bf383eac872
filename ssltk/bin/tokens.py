"""Build a token list (and sentencepiece model) from a training transcript table.

    python -m ssltk.bin.tokens --text data/train/text --type char --out dump/tokens/char
    python -m ssltk.bin.tokens --text data/train/text --type bpe --bpe_size 300 --out dump/tokens/bpe300
    python -m ssltk.bin.tokens --text data/train/text.phn --type phone --out dump/tokens/phone
    python -m ssltk.bin.tokens --text data/train/text --type bpe --bpe_size 100 \\
        --lang_tags data/train/text.lang --out dump/tokens/bpe_cs      # bilingual (code-switching)

Writes ``OUT/tokens.txt`` (ESPnet style: ``<blank>``, ``<unk>``, units, ``<sos/eos>``),
``OUT/tokenizer.yaml`` and, for bpe, ``OUT/bpe.model`` (or ``bpe.<lang>.model``
per language with ``--lang_tags``).  The transcript table's file name (``text``,
``text.phn``) is the table that training reads from every data directory.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import UserError, cli_main
from ssltk.text import TOKEN_TYPES, build_token_dir


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokens", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="transcript table (data/train/text or text.phn)")
    p.add_argument("--type", required=True, choices=TOKEN_TYPES, help="unit type")
    p.add_argument("--out", required=True, help="output token directory")
    p.add_argument("--bpe_size", type=int, default=500, help="sentencepiece vocabulary size "
                   "(per language with --lang_tags)")
    p.add_argument("--bpe_mode", default="bpe", choices=("bpe", "unigram"), help="sentencepiece model type")
    p.add_argument("--lang_tags", default=None,
                   help="word-level language tags (text.lang): a bilingual bpe token list")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bpe_size < 2:
        raise UserError(f"--bpe_size must be >= 2, got {args.bpe_size}")
    tokenizer = build_token_dir(args.text, args.type, args.out, bpe_size=args.bpe_size,
                                bpe_mode=args.bpe_mode, lang_tags=args.lang_tags)
    print(f"tokens: {len(tokenizer.token_list)} tokens ({args.type}) -> {args.out}/tokens.txt",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
