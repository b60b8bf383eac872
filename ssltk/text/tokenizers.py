"""Tokenizers: transcript <-> units <-> ids, and the token directory that describes one.

Types (``tokenizer.yaml: type``):

``char``   characters; the space between words is the unit ``<space>`` (ESPnet's).
``word``   whitespace-separated words.
``phone``  whitespace-separated phones (``text.phn``); the ``|`` word boundaries are dropped.
``bpe``    sentencepiece pieces (``bpe_mode`` ``bpe`` or ``unigram``).  *Bilingual*
           (code-switching) when trained with language tags: one model per language,
           trained on that language's words, the token list the union of their pieces;
           each word is then split by the model of its language (``lang_table``, e.g.
           ``text.lang``, must be in every data directory).  Decoding needs no tags:
           pieces are joined and ``▁`` becomes a space.

Unit order in ``tokens.txt``: char/word/phone by decreasing training count (ties by
code point), bpe in sentencepiece order.
"""

from __future__ import annotations

import collections
import tempfile
from pathlib import Path
from typing import Sequence

import yaml

from ssltk.data.datadir import read_table, write_text_atomic
from ssltk.errors import UserError
from ssltk.text.token_list import BLANK, SOS_EOS, UNK, TokenList

TOKEN_TYPES = ("char", "word", "phone", "bpe")
SPACE = "<space>"
WORD_BOUNDARY = "|"
SP_SPACE = "\u2581"  # sentencepiece's word-start mark
INFO_FILE = "tokenizer.yaml"
TOKENS_FILE = "tokens.txt"


class Tokenizer:
    """Splits transcripts into units of a `TokenList` and joins them back.

    ``table``: the data-dir table holding the transcripts (``text``, ``text.phn``).
    ``lang_table``: the word-level language tags a bilingual bpe tokenizer needs.
    """

    def __init__(self, token_type: str, token_list: TokenList, table: str = "text",
                 sp_models: dict[str, Path] | None = None, lang_table: str | None = None):
        if token_type not in TOKEN_TYPES:
            raise UserError(f"unknown token type '{token_type}' (expected {', '.join(TOKEN_TYPES)})")
        self.type = token_type
        self.token_list = token_list
        self.table = table
        self.lang_table = lang_table
        self.sp = {}
        if token_type == "bpe":
            import sentencepiece as spm

            if not sp_models:
                raise UserError("a bpe tokenizer needs sentencepiece model(s)")
            for lang, path in sp_models.items():
                if not Path(path).is_file():
                    raise UserError(f"sentencepiece model {path} not found")
                self.sp[lang] = spm.SentencePieceProcessor(model_file=str(path))

    @property
    def needs_langs(self) -> bool:
        return self.lang_table is not None and self.type == "bpe"

    def units(self, text: str, langs: Sequence[str] | None = None, utt: str = "") -> list[str]:
        """Units of one transcript (``<unk>`` where sentencepiece does not know a character)."""
        words = text.split()
        if self.type == "char":
            return [SPACE if c == " " else c for c in " ".join(words)]
        if self.type == "word":
            return words
        if self.type == "phone":
            return [w for w in words if w != WORD_BOUNDARY]
        if not self.needs_langs:
            return self._pieces(self.sp[""], " ".join(words))
        if langs is None or len(langs) != len(words):
            got = "no language tags" if langs is None else f"{len(langs)} language tags"
            raise UserError(f"utterance '{utt}': {len(words)} words but {got} (from {self.lang_table})")
        out: list[str] = []
        for word, lang in zip(words, langs):
            if lang not in self.sp:
                raise UserError(f"utterance '{utt}': language tag '{lang}' has no sentencepiece "
                                f"model (known: {', '.join(sorted(self.sp))})")
            out += self._pieces(self.sp[lang], word)
        return out

    @staticmethod
    def _pieces(sp, text: str) -> list[str]:
        unk = sp.unk_id()
        return [UNK if i == unk else sp.id_to_piece(i) for i in sp.encode(text, out_type=int)]

    def encode(self, text: str, langs: Sequence[str] | None = None, allow_unk: bool = False,
               utt: str = "") -> list[int]:
        return self.token_list.encode(self.units(text, langs, utt), allow_unk=allow_unk, utt=utt)

    def decode(self, ids: Sequence[int]) -> str:
        """Transcript of a sequence of ids (``<blank>``/``<sos/eos>`` dropped)."""
        return self.join(self.token_list.decode(ids))

    def join(self, units: Sequence[str]) -> str:
        if self.type == "char":
            return " ".join("".join(" " if u == SPACE else u for u in units).split())
        if self.type == "bpe":
            return " ".join("".join(units).replace(SP_SPACE, " ").split())
        return " ".join(units)

    def info(self) -> dict:
        """What `tokenizer.yaml` records (sentencepiece paths relative to the directory)."""
        info = {"type": self.type, "table": self.table, "size": len(self.token_list)}
        if self.type == "bpe" and not self.needs_langs:
            info["bpe_model"] = _model_name("")
        elif self.type == "bpe":
            info["bpe_models"] = {lang: _model_name(lang) for lang in self.sp}
        if self.lang_table:
            info["lang_table"] = self.lang_table
        return info


def _model_name(lang: str) -> str:
    return f"bpe.{lang}.model" if lang else "bpe.model"


def load_token_dir(path: str | Path) -> Tokenizer:
    """The tokenizer described by a token directory (see `ssltk.text`)."""
    path = Path(path)
    info_path = path / INFO_FILE
    if not info_path.is_file():
        raise UserError(f"{path}: not a token directory ({INFO_FILE} missing; make one with "
                        "python -m ssltk.bin.tokens)")
    info = yaml.safe_load(info_path.read_text(encoding="utf-8")) or {}
    token_list = TokenList.read(path / TOKENS_FILE)
    models = {lang: path / name for lang, name in (info.get("bpe_models") or {}).items()}
    if info.get("bpe_model"):
        models[""] = path / info["bpe_model"]
    return Tokenizer(info.get("type", ""), token_list, info.get("table", "text"), models,
                     info.get("lang_table"))


def _ranked(counts: collections.Counter) -> list[str]:
    return sorted(counts, key=lambda u: (-counts[u], u))


def build_token_dir(text_path: str | Path, token_type: str, out_dir: str | Path, bpe_size: int = 500,
                    bpe_mode: str = "bpe", lang_tags: str | Path | None = None) -> Tokenizer:
    """Make a token directory from a training transcript table (``text`` / ``text.phn``).

    ``lang_tags`` (a ``text.lang`` table) makes a bilingual bpe tokenizer; for
    the other types the single list already is the union of both languages' units.
    """
    if token_type not in TOKEN_TYPES:
        raise UserError(f"unknown token type '{token_type}' (expected {', '.join(TOKEN_TYPES)})")
    text_path, out = Path(text_path), Path(out_dir)
    texts = read_table(text_path)
    if not texts:
        raise UserError(f"{text_path}: no transcripts")
    out.mkdir(parents=True, exist_ok=True)
    table = text_path.name
    lang_table = Path(lang_tags).name if lang_tags is not None else None
    if token_type != "bpe":
        probe = Tokenizer(token_type, TokenList([BLANK]), table)
        counts = collections.Counter(u for t in texts.values() for u in probe.units(t))
        for special in (BLANK, UNK, SOS_EOS):
            counts.pop(special, None)
        tokens = [BLANK, UNK, *_ranked(counts), SOS_EOS]
        tokenizer = Tokenizer(token_type, TokenList(tokens, str(out / TOKENS_FILE)), table)
    else:
        groups = _words_by_language(texts, text_path, lang_tags) if lang_tags else \
            {"": [" ".join(t.split()) for t in texts.values()]}
        models = {}
        for lang, lines in groups.items():
            prefix = out / _model_name(lang)[:-len(".model")]
            what = f"the '{lang}' words" if lang else "the text"
            _train_sentencepiece(lines, prefix, bpe_size, bpe_mode, what)
            models[lang] = Path(f"{prefix}.model")
        import sentencepiece as spm

        pieces: list[str] = []
        for lang in models:
            sp = spm.SentencePieceProcessor(model_file=str(models[lang]))
            pieces += [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if i != sp.unk_id()]
        tokens = [BLANK, UNK, *dict.fromkeys(pieces), SOS_EOS]
        tokenizer = Tokenizer("bpe", TokenList(tokens, str(out / TOKENS_FILE)), table, models,
                              lang_table if lang_tags else None)
    tokenizer.token_list.write(out / TOKENS_FILE)
    write_text_atomic(out / INFO_FILE, yaml.safe_dump(tokenizer.info(), sort_keys=False, allow_unicode=True))
    return tokenizer


def _words_by_language(texts: dict[str, str], text_path: Path, tags_path) -> dict[str, list[str]]:
    """One line per utterance and language: the words of that language, in order."""
    tags = read_table(tags_path)
    groups: dict[str, list[str]] = {}
    for utt, text in texts.items():
        if utt not in tags:
            raise UserError(f"utterance '{utt}' of {text_path} is missing from {tags_path}")
        words, langs = text.split(), tags[utt].split()
        if len(words) != len(langs):
            raise UserError(f"utterance '{utt}': {len(words)} words in {text_path} but "
                            f"{len(langs)} tags in {tags_path}")
        per_lang: dict[str, list[str]] = {}
        for word, lang in zip(words, langs):
            per_lang.setdefault(lang, []).append(word)
        for lang, ws in per_lang.items():
            groups.setdefault(lang, []).append(" ".join(ws))
    return dict(sorted(groups.items()))


def _train_sentencepiece(lines: list[str], prefix: Path, size: int, mode: str, what: str) -> None:
    import sentencepiece as spm

    if mode not in ("bpe", "unigram"):
        raise UserError(f"bpe_mode must be 'bpe' or 'unigram', got '{mode}'")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", dir=prefix.parent,
                                     delete=False) as f:
        f.write("".join(f"{line}\n" for line in lines if line))
    try:
        spm.SentencePieceTrainer.train(
            input=f.name, model_prefix=str(prefix), vocab_size=size, model_type=mode,
            character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
            input_sentence_size=100_000_000, num_threads=1, minloglevel=2)
    except RuntimeError as e:
        raise UserError(f"sentencepiece training on {what} failed: {str(e).split('] ')[-1]}") from None
    finally:
        Path(f.name).unlink(missing_ok=True)
