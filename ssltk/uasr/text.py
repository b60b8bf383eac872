"""Text side of wav2vec-U: phonemise, insert silences, prune rare phones, phone inventory.

Our own implementation of what fairseq's ``prepare_text.sh`` and
``phonemize_with_sil.py`` do, with the phone labels of ``ssltk.corpora.synth`` so the
text side and the synthetic corpus's audio side agree.  `prepare_text` writes the
whole text side of a recipe (``ssltk.bin.uasr_text``).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ssltk.data.datadir import read_entries, write_json, write_text_atomic
from ssltk.corpora.synth.corpus import WORD_BOUNDARY
from ssltk.errors import UserError

SIL = "<SIL>"

Words = list[list[str]]  # one sentence: the phones of each word


class TextError(UserError):
    """Bad text-side input (phone lines, inventory)."""


def normalize(text: str) -> str:
    """Lowercase, strip and collapse whitespace (what the unpaired corpus's sentences look like)."""
    return " ".join(text.lower().split())


def parse_phone_line(line: str) -> Words:
    """``"a b | c d"`` -> ``[["a", "b"], ["c", "d"]]``; empty words are dropped."""
    words: Words = [[]]
    for tok in line.split():
        if tok == WORD_BOUNDARY:
            words.append([])
        else:
            words[-1].append(tok)
    return [w for w in words if w]


def read_phone_lines(path: str | os.PathLike, with_utt: bool = False) -> list[Words]:
    """Read phone lines (``text.phn``: words separated by ``|``); ``with_utt``: first field is an id.

    Blank lines (and lines with only an id) are errors: an empty sentence cannot train the LM.
    """
    out: list[Words] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split(maxsplit=1) if with_utt else [None, line]
            words = parse_phone_line(fields[1]) if len(fields) == 2 else []
            if not words:
                raise TextError(f"{path}:{lineno}: empty phone sentence")
            if SIL in line.split():
                raise TextError(f"{path}:{lineno}: {SIL} in the input phones (silences are inserted here)")
            out.append(words)
    return out


def read_phone_table(path: str | os.PathLike) -> dict[str, list[str]]:
    """A data dir's ``text.phn`` as ``{utt: phones}``, word boundaries dropped (references)."""
    return {e.key: [p for w in parse_phone_line(e.value) for p in w] for e in read_entries(path)}


def phonemize(sentences: Sequence[str], language: str = "en-us", nj: int = 1) -> list[Words]:
    """Phones of each word of each sentence, from espeak-ng via ``ssltk.corpora.synth``.

    The same engine, voice (``Voice(language)``, seed 0) and labels as the synthetic
    corpus's ``text_only/text.phn``. espeak synthesises audio that is discarded: about
    two espeak runs per sentence (a few ms to tens of ms each, CPU); ``nj`` processes.
    Words espeak joins with the next one (an empty phone list) are dropped.
    """
    from ssltk.corpora.synth.espeak import Voice
    from ssltk.corpora.synth.render import Job, Segment, render_all

    texts = [normalize(s) for s in sentences]
    for i, t in enumerate(texts):
        if not t:
            raise TextError(f"sentence {i + 1}: empty text")
    jobs = [Job(f"text{i:06d}", (Segment(t, Voice(language)),), seed=0) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        results = render_all(jobs, Path(tmp), nj=nj)
    return [[w for w in r.words if w] for r in results]


def insert_silences(words: Words, sil_prob: float, rng: np.random.Generator) -> list[str]:
    """``<SIL>`` at both ends and between words with probability ``sil_prob``; words stay whole."""
    if not 0.0 <= sil_prob <= 1.0:
        raise TextError(f"sil_prob must be in [0, 1], got {sil_prob}")
    out = [SIL]
    for i, w in enumerate(words):
        if i and rng.random() < sil_prob:
            out.append(SIL)
        out.extend(w)
    out.append(SIL)
    return out


def prune_rare_phones(sentences: Sequence[Words], min_count: int) -> tuple[list[Words], Counter, list[str], int]:
    """Drop phones seen fewer than ``min_count`` times, and every sentence containing one.

    (fairseq maps them to an unknown symbol via ``--thresholdsrc`` instead.)
    Returns (kept sentences, phone counts of the kept sentences, pruned phones sorted, number dropped).
    """
    total = Counter(p for s in sentences for w in s for p in w)
    pruned = sorted(p for p, c in total.items() if c < min_count)
    bad = set(pruned)
    kept = [s for s in sentences if not any(p in bad for w in s for p in w)]
    counts = Counter(p for s in kept for w in s for p in w)
    return kept, counts, pruned, len(sentences) - len(kept)


def _c_key(s: str) -> bytes:
    return s.encode("utf-8")  # LC_ALL=C: byte order


def write_phone_inventory(path: str | os.PathLike, counts: dict[str, int]) -> None:
    """``phones.txt``: ``<phone> <count>`` by count descending, then phone in C order (atomic)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], _c_key(kv[0])))
    write_text_atomic(path, "".join(f"{p} {c}\n" for p, c in items))


def read_phone_inventory(path: str | os.PathLike) -> list[str]:
    """Phones of ``phones.txt`` in file order (= the generator's output index order)."""
    phones: list[str] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 2 or not re.fullmatch(r"\d+", parts[1]):
                raise TextError(f"{path}:{lineno}: expected '<phone> <count>', got {line.rstrip()!r}")
            if parts[0] in seen:
                raise TextError(f"{path}:{lineno}: duplicate phone {parts[0]!r} (first on line {seen[parts[0]]})")
            seen[parts[0]] = lineno
            phones.append(parts[0])
    if not phones:
        raise TextError(f"{path}: empty phone inventory")
    return phones


def words_line(words: Iterable[Sequence[str]]) -> str:
    """The ``text.phn`` form of one sentence: phones, `` | `` between words."""
    return f" {WORD_BOUNDARY} ".join(" ".join(w) for w in words if w)


def prepare_text(sentences: Sequence[Words], out: str | os.PathLike, *, sil_prob: float = 0.5,
                 min_phone_count: int = 1, lm_order: int = 4, seed: int = 0) -> dict:
    """Write the GAN's text side of ``sentences`` into ``out``: ``phones.txt`` (inventory,
    ``<SIL>`` included), ``lm.phones.txt`` (``<SIL>``-inserted phone lines),
    ``words.phn``, ``lm.phones.<lm_order>.arpa`` (Kneser-Ney phone LM) and
    ``text_info.json`` (the returned summary).  Deterministic for given inputs."""
    from ssltk.uasr.lm import ArpaLM, train_ngram, write_arpa

    if not 0.0 <= sil_prob <= 1.0:
        raise UserError(f"--sil_prob must be in [0, 1], got {sil_prob}")
    if min_phone_count < 1 or lm_order < 1:
        raise UserError("--min_phone_count and --lm_order must be >= 1")
    kept, counts, pruned, dropped = prune_rare_phones(sentences, min_phone_count)
    if not kept:
        raise UserError(f"every sentence has a phone seen fewer than {min_phone_count} times")
    rng = np.random.default_rng(seed)
    lm_lines = [insert_silences(s, sil_prob, rng) for s in kept]
    counts[SIL] = sum(line.count(SIL) for line in lm_lines)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_phone_inventory(out / "phones.txt", counts)
    write_text_atomic(out / "lm.phones.txt", "".join(" ".join(s) + "\n" for s in lm_lines))
    write_text_atomic(out / "words.phn", "".join(words_line(s) + "\n" for s in kept))
    arpa = out / f"lm.phones.{lm_order}.arpa"
    write_arpa(train_ngram(lm_lines, lm_order), arpa)
    ppl = ArpaLM.read(arpa).perplexity(lm_lines)
    info = {"sentences_in": len(sentences), "sentences_kept": len(kept), "sentences_dropped": dropped,
            "pruned_phones": pruned, "min_phone_count": min_phone_count,
            "inventory_size": len(counts), "seed": seed, "sil_prob": sil_prob,
            "lm_order": lm_order, "lm_train_perplexity": round(ppl, 4)}
    write_json(out / "text_info.json", info)
    return info
