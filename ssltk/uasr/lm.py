"""Word/phone n-gram LM: interpolated modified Kneser-Ney (Chen & Goodman) with ARPA I/O.

Like KenLM's lmplz: the highest order uses raw counts, lower orders continuation counts
(number of distinct left extensions) except n-grams starting with ``<s>`` (raw counts);
three discounts D1, D2, D3+ per order from count-of-counts; unigrams are interpolated
with the uniform distribution over the vocabulary (``</s>`` and ``<unk>`` included,
``<s>`` excluded: it is never predicted and gets -99 in the ARPA file).

Small data: a discount that cannot be estimated (a zero count-of-counts) or falls
outside (0, k] for D_k (as lmplz requires) is replaced by the fallback (0.5, 1.0, 1.5)[k-1].
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from typing import Iterable, Sequence

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


class LMError(UserError):
    """Bad LM training input or a malformed ARPA file."""


def _discounts(counts: dict[tuple, int]) -> tuple[float, float, float]:
    n = [0] * 5
    for c in counts.values():
        if c <= 4:
            n[c] += 1
    out = list(FALLBACK_DISCOUNTS)
    if n[1] > 0 and n[2] > 0:
        y = n[1] / (n[1] + 2 * n[2])
        for k in (1, 2, 3):
            if n[k] > 0:
                d = k - (k + 1) * y * n[k + 1] / n[k]
                if 0 < d <= k:
                    out[k - 1] = d
    return out[0], out[1], out[2]


class NgramLM:
    """Trained model; probabilities computed directly from the counts by the recursion."""

    def __init__(self, order: int, counts: list[dict[tuple, int]], discounts: list[tuple[float, float, float]], vocab: list[str]):
        self.order = order
        self.counts = counts  # counts[n-1]: adjusted counts of n-grams
        self.discounts = discounts
        self.vocab = vocab  # includes <s>, </s>, <unk>
        self._vocab_set = set(vocab)
        self._predicted = len(vocab) - 1  # all but <s>
        self._ctx: list[dict[tuple, list]] = []  # per order: context -> [total, N1, N2, N3+]
        for n in range(order):
            ctx: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0])
            for g, c in counts[n].items():
                if n == 0 and g[0] == BOS:
                    continue
                s = ctx[g[:-1]]
                s[0] += c
                s[min(c, 3)] += 1
            self._ctx.append(dict(ctx))

    def _map(self, w: str) -> str:
        return w if w in self._vocab_set else UNK

    def _prob(self, word: str, context: tuple) -> float:
        if not context:
            if word == BOS:
                return 0.0
            uniform = 1.0 / self._predicted
            total, n1, n2, n3 = self._ctx[0][()]
            d = self.discounts[0]
            c = self.counts[0].get((word,), 0)
            gamma = (d[0] * n1 + d[1] * n2 + d[2] * n3) / total
            return max(c - d[min(c, 3) - 1], 0.0) / total + gamma * uniform if c else gamma * uniform
        lower = self._prob(word, context[1:])
        n = len(context)
        stats = self._ctx[n].get(context)
        if stats is None:
            return lower
        total, n1, n2, n3 = stats
        d = self.discounts[n]
        c = self.counts[n].get(context + (word,), 0)
        gamma = (d[0] * n1 + d[1] * n2 + d[2] * n3) / total
        disc = max(c - d[min(c, 3) - 1], 0.0) if c else 0.0
        return disc / total + gamma * lower

    def backoff(self, context: tuple) -> float:
        """log10 interpolation weight gamma(context) (0 for an unseen context)."""
        stats = self._ctx[len(context)].get(context) if len(context) < self.order else None
        if stats is None:
            return 0.0
        total, n1, n2, n3 = stats
        d = self.discounts[len(context)]
        return math.log10((d[0] * n1 + d[1] * n2 + d[2] * n3) / total)

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 P(word | context); context is truncated to the last order-1 tokens."""
        ctx = tuple(self._map(w) for w in context)[-(self.order - 1):] if self.order > 1 else ()
        p = self._prob(self._map(word), ctx)
        return -99.0 if p <= 0 else math.log10(p)

    def score(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Sum of log10 probabilities, like kenlm's ``Model.score(sentence, bos, eos)``."""
        return _score(self.logprob, tokens, bos, eos)


def _score(logprob, tokens: Sequence[str], bos: bool, eos: bool) -> float:
    hist = [BOS] if bos else []
    total = 0.0
    for w in list(tokens) + ([EOS] if eos else []):
        total += logprob(w, hist)
        hist.append(w)
    return total


def train_ngram(sentences: Iterable[Sequence[str]], order: int = 4, discounts=None) -> NgramLM:
    """Train an interpolated modified Kneser-Ney LM.

    ``discounts``: None (estimated) or a sequence, one (D1, D2, D3+) per order (unigram first).
    """
    if order < 1:
        raise LMError(f"LM order must be >= 1, got {order}")
    raw: list[dict[tuple, int]] = [defaultdict(int) for _ in range(order)]
    words: set[str] = set()
    nsent = 0
    for i, sent in enumerate(sentences):
        toks = list(sent)
        for t in toks:
            if t in (BOS, EOS):
                raise LMError(f"sentence {i + 1}: token {t!r} is reserved for sentence boundaries")
        words.update(toks)
        seq = [BOS] + toks + [EOS]
        nsent += 1
        for n in range(1, order + 1):
            for j in range(len(seq) - n + 1):
                raw[n - 1][tuple(seq[j:j + n])] += 1
    if nsent == 0:
        raise LMError("empty training corpus: no sentences")
    # adjusted counts: continuation counts below the top order, except n-grams starting with <s>
    counts: list[dict[tuple, int]] = [dict(raw[order - 1])]
    for n in range(order - 1, 0, -1):
        cont: dict[tuple, int] = defaultdict(int)
        for g in raw[n]:
            cont[g[1:]] += 1
        adj = {g: (c if g[0] == BOS else cont.get(g, 0)) for g, c in raw[n - 1].items()}
        counts.insert(0, {g: c for g, c in adj.items() if c > 0})
    counts[0][(BOS,)] = nsent
    vocab = [BOS, EOS, UNK] + sorted(words - {UNK})
    if discounts is None:
        disc = [_discounts({g: c for g, c in counts[n].items() if g != (BOS,)}) for n in range(order)]
    else:
        disc = [tuple(float(x) for x in d) for d in discounts]
        if len(disc) != order or any(len(d) != 3 for d in disc):
            raise LMError(f"discounts: need {order} triples (D1, D2, D3+), got {discounts!r}")
    return NgramLM(order, counts, disc, vocab)


def write_arpa(lm: NgramLM, path: str | os.PathLike) -> None:
    """Write ``lm`` as an ARPA file (atomically: temp file then rename)."""
    sections: list[list[str]] = []
    for n in range(lm.order):
        grams = set(lm.counts[n])
        if n == 0:
            grams |= {(w,) for w in lm.vocab}
        lines = []
        for g in sorted(grams):
            lp = -99.0 if g == (BOS,) else lm.logprob(g[-1], g[:-1])
            line = f"{lp:.7g}\t{' '.join(g)}"
            if n < lm.order - 1 and g[-1] != EOS:
                line += f"\t{lm.backoff(g):.7g}"
            lines.append(line)
        sections.append(lines)
    out = ["", "\\data\\"] + [f"ngram {n + 1}={len(s)}" for n, s in enumerate(sections)]
    for n, s in enumerate(sections):
        out += ["", f"\\{n + 1}-grams:"] + s
    out += ["", "\\end\\", ""]
    write_text_atomic(path, "\n".join(out))

class ArpaLM:
    """An ARPA back-off LM: ``logprob`` by standard back-off, ``score``, ``perplexity``."""

    def __init__(self, order: int, probs: dict[tuple, float], backoffs: dict[tuple, float]):
        self.order = order
        self.probs = probs
        self.backoffs = backoffs
        self.vocab = [g[0] for g in probs if len(g) == 1]
        self._vocab_set = set(self.vocab)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ArpaLM":
        probs: dict[tuple, float] = {}
        backoffs: dict[tuple, float] = {}
        declared: dict[int, int] = {}
        section = None  # "data", an int n, or "end"
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                where = f"{path}:{lineno}"
                if not line:
                    continue
                if line == "\\data\\":
                    section = "data"
                elif line == "\\end\\":
                    section = "end"
                    break
                elif line.startswith("\\") and line.endswith("-grams:"):
                    try:
                        section = int(line[1:-7])
                    except ValueError:
                        raise LMError(f"{where}: bad section header {line!r}") from None
                    if section not in declared:
                        raise LMError(f"{where}: section {line!r} not declared in \\data\\")
                elif section == "data":
                    try:
                        k, v = line.split("=")
                        if not k.startswith("ngram "):
                            raise ValueError
                        declared[int(k[6:])] = int(v)
                    except ValueError:
                        raise LMError(f"{where}: expected 'ngram N=count', got {line!r}") from None
                elif isinstance(section, int):
                    parts = line.split()
                    n = section
                    if len(parts) not in (n + 1, n + 2):
                        raise LMError(f"{where}: expected 'log10prob {n} words [backoff]', got {line!r}")
                    try:
                        lp = float(parts[0])
                        bo = float(parts[n + 1]) if len(parts) == n + 2 else None
                    except ValueError:
                        raise LMError(f"{where}: non-numeric probability or backoff in {line!r}") from None
                    g = tuple(parts[1:n + 1])
                    if g in probs:
                        raise LMError(f"{where}: duplicate n-gram {' '.join(g)!r}")
                    probs[g] = lp
                    if bo is not None:
                        backoffs[g] = bo
                else:
                    raise LMError(f"{where}: unexpected line {line!r} outside any section")
        if section != "end":
            raise LMError(f"{path}: missing \\end\\ (truncated file?)")
        if not declared:
            raise LMError(f"{path}: no \\data\\ section")
        for n, cnt in declared.items():
            got = sum(1 for g in probs if len(g) == n)
            if got != cnt:
                raise LMError(f"{path}: \\data\\ declares ngram {n}={cnt} but the file has {got}")
        if (UNK,) not in probs:
            raise LMError(f"{path}: no {UNK} unigram")
        return cls(max(declared), probs, backoffs)

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        m = lambda w: w if w in self._vocab_set else UNK  # noqa: E731
        ctx = tuple(m(w) for w in context)[-(self.order - 1):] if self.order > 1 else ()
        word = m(word)
        bo = 0.0
        while True:
            g = ctx + (word,)
            if g in self.probs:
                return bo + self.probs[g]
            bo += self.backoffs.get(ctx, 0.0)
            ctx = ctx[1:]

    def score(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        return _score(self.logprob, tokens, bos, eos)

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """10 ** (-total log10 prob / number of predicted tokens, </s> included)."""
        total, n = 0.0, 0
        for s in sentences:
            total += self.score(s)
            n += len(s) + 1
        if n == 0:
            raise LMError("perplexity: no sentences")
        return 10 ** (-total / n)
