"""Levenshtein alignment and error counts (WER / CER / PER / token error rate).

Costs are 1 for a substitution, deletion or insertion (as ``editdistance`` and
ESPnet's in-training error rates; sclite's default weights 4/3/3 can pick an
alignment with more errors).  Among minimal alignments the backtrace, walking
from the end, prefers a match or substitution, then a deletion, then an
insertion, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ssltk.errors import UserError

CORRECT, SUB, DEL, INS = "C", "S", "D", "I"
SPACE = "<space>"  # the space between words in character units (ESPnet's symbol)
WORD_BOUNDARY = "|"  # word separator of text.phn, ignored in phone units
UNITS = ("word", "char", "phone")


@dataclass
class ErrorCounts:
    """Summable counts of an alignment (or of a whole test set)."""

    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    sents: int = 0  # sentences
    sent_err: int = 0  # sentences with at least one error

    @property
    def ref_len(self) -> int:
        return self.corr + self.sub + self.dele

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float:
        """Errors / reference length: 0.0 for 0/0, inf for errors against an empty reference."""
        if self.ref_len:
            return self.errors / self.ref_len
        return 0.0 if not self.errors else float("inf")

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.corr + other.corr, self.sub + other.sub, self.dele + other.dele,
                           self.ins + other.ins, self.sents + other.sents,
                           self.sent_err + other.sent_err)

    def summary(self) -> dict:
        """Counts and percentages, the columns of an ESPnet RESULTS.md table."""
        n = self.ref_len
        pct = (lambda x: round(100.0 * x / n, 2)) if n else (lambda x: 0.0 if not x else float("inf"))
        return {
            "snt": self.sents, "wrd": n,
            "corr": self.corr, "sub": self.sub, "del": self.dele, "ins": self.ins,
            "err": self.errors, "s_err": self.sent_err,
            "corr_pct": pct(self.corr), "sub_pct": pct(self.sub), "del_pct": pct(self.dele),
            "ins_pct": pct(self.ins), "err_pct": pct(self.errors),
            "s_err_pct": round(100.0 * self.sent_err / self.sents, 2) if self.sents else 0.0,
        }


@dataclass
class Alignment:
    """``ops``: ``(op, ref_token | None, hyp_token | None)`` with op in C, S, D, I."""

    ops: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def counts(self) -> ErrorCounts:
        kinds = [op for op, _, _ in self.ops]
        c = ErrorCounts(kinds.count(CORRECT), kinds.count(SUB), kinds.count(DEL), kinds.count(INS), 1)
        c.sent_err = int(c.errors > 0)
        return c


def _distance_matrix(ref: Sequence[str], hyp: Sequence[str]) -> np.ndarray:
    """``D[i, j]``: edit distance between ``ref[:i]`` and ``hyp[:j]`` (rows vectorised)."""
    vocab: dict[str, int] = {}
    r = np.array([vocab.setdefault(t, len(vocab)) for t in ref], dtype=np.int64)
    h = np.array([vocab.setdefault(t, len(vocab)) for t in hyp], dtype=np.int64)
    n, m = len(r), len(h)
    idx = np.arange(m + 1)
    dist = np.empty((n + 1, m + 1), dtype=np.int64)
    dist[0] = idx
    for i in range(1, n + 1):
        prev = dist[i - 1]
        best = np.empty(m + 1, dtype=np.int64)
        best[0] = i
        best[1:] = np.minimum(prev[:-1] + (h != r[i - 1]), prev[1:] + 1)  # substitute/match, delete
        # insertions: cur[j] = min_k (best[k] + j - k), a running minimum
        dist[i] = np.minimum.accumulate(best - idx) + idx
    return dist


def align(ref: Sequence[str], hyp: Sequence[str]) -> Alignment:
    """A minimal-cost alignment of two token sequences (see the module docstring)."""
    dist = _distance_matrix(ref, hyp)
    i, j = len(ref), len(hyp)
    ops: list[tuple[str, str | None, str | None]] = []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and dist[i, j] == dist[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append((CORRECT if ref[i - 1] == hyp[j - 1] else SUB, ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and dist[i, j] == dist[i - 1, j] + 1:
            ops.append((DEL, ref[i - 1], None))
            i -= 1
        else:
            ops.append((INS, None, hyp[j - 1]))
            j -= 1
    ops.reverse()
    return Alignment(ops)


def count_errors(ref: Sequence[str], hyp: Sequence[str]) -> ErrorCounts:
    """Counts of one aligned pair (one sentence)."""
    return align(ref, hyp).counts()


def tokenize_for_scoring(text: str, unit: str) -> list[str]:
    """Split a transcript into scoring units.

    ``word``: whitespace-separated words.  ``char``: characters, the space
    between words as ``<space>`` (ESPnet's CER; runs of spaces count once).
    ``phone``: whitespace-separated phones without the ``|`` word boundaries
    of ``text.phn``.
    """
    words = text.split()
    if unit == "word":
        return words
    if unit == "char":
        return [SPACE if c == " " else c for c in " ".join(words)]
    if unit == "phone":
        return [w for w in words if w != WORD_BOUNDARY]
    raise ValueError(f"unknown unit {unit!r} (expected one of {', '.join(UNITS)})")


def check_same_utts(refs: dict, hyps: dict, ref_name: str, hyp_name: str) -> None:
    """Raise a `UserError` naming the first utterance in one table but not the other."""
    missing = [u for u in refs if u not in hyps]
    if missing:
        raise UserError(f"{hyp_name}: no hypothesis for {len(missing)} utterance(s) of {ref_name} "
                        f"(first: '{missing[0]}')")
    extra = [u for u in hyps if u not in refs]
    if extra:
        raise UserError(f"{hyp_name}: {len(extra)} utterance(s) not in {ref_name} (first: '{extra[0]}')")


def corpus_errors(refs: dict[str, str], hyps: dict[str, str], unit: str = "word",
                  ) -> tuple[ErrorCounts, dict[str, Alignment]]:
    """Total counts and the alignment of each utterance of ``refs`` (hyps must cover them)."""
    check_same_utts(refs, hyps, "reference", "hypothesis")
    total = ErrorCounts()
    alignments = {}
    for utt, ref in refs.items():
        alignments[utt] = align(tokenize_for_scoring(ref, unit), tokenize_for_scoring(hyps[utt], unit))
        total = total + alignments[utt].counts()
    return total, alignments
