"""Token lists and tokenizers for CTC models (characters, words, phones, sentencepiece BPE).

A *token directory* (written by ``python -m ssltk.bin.tokens``) holds

``tokens.txt``      one token a line, ESPnet style: ``<blank>`` first, ``<unk>``
                    second, the units, ``<sos/eos>`` last (unused by CTC, kept so that
                    ESPnet can read the list);
``tokenizer.yaml``  the token type and what the tokenizer needs (the table it reads,
                    e.g. ``text`` or ``text.phn``, the sentencepiece model files);
``bpe*.model``      sentencepiece models (``--type bpe``).
"""

from ssltk.text.token_list import BLANK, SOS_EOS, UNK, TokenList, UnknownTokenError
from ssltk.text.tokenizers import (TOKEN_TYPES, Tokenizer, build_token_dir, load_token_dir)

__all__ = [
    "BLANK", "SOS_EOS", "TOKEN_TYPES", "TokenList", "Tokenizer", "UNK", "UnknownTokenError",
    "build_token_dir", "load_token_dir",
]
