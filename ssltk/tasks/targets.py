"""Targets of the downstream tasks: label ids and token-id transcripts per utterance."""

from __future__ import annotations

from pathlib import Path

from ssltk.data.datadir import DataDir
from ssltk.data.loader import lookup
from ssltk.errors import UserError


def encode_labels(labels: dict[str, str], vocab: list[str], where: Path) -> dict[str, int]:
    index = {label: i for i, label in enumerate(vocab)}
    out = {}
    for utt, label in labels.items():
        if label not in index:
            raise UserError(f"utterance '{utt}' of {where}: label '{label}' is not one of the "
                            f"{len(vocab)} labels seen in training")
        out[utt] = index[label]
    return out


def encode_texts(ddir: DataDir, kind: str, tokenizer, allow_unk: bool) -> dict[str, list[int]]:
    """Token ids of every utterance's transcript (``tokenizer.table``, e.g. text / text.phn)."""
    texts = lookup(ddir, kind, tokenizer.table)
    langs = lookup(ddir, kind, tokenizer.lang_table) if tokenizer.needs_langs else {}
    out = {}
    for utt, text in texts.items():
        try:
            out[utt] = tokenizer.encode(text, langs[utt].split() if langs else None, allow_unk, utt)
        except UserError as e:
            raise type(e)(f"{ddir.path / tokenizer.table}: {e}") from None
    return out
