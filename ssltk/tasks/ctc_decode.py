"""CTC decoding: best path (greedy) and prefix beam search.

Both take frame log-probabilities ``[T, V]`` with the blank at id 0 (default)
and return token ids with repeats merged and blanks removed.

Prefix beam search keeps the ``beam`` most probable label prefixes, each
scored by the total probability of all frame paths that collapse to it
(split into paths ending in blank / non-blank, so that ``a a`` and ``a - a``
are told apart).  It finds transcripts that the best path misses when their
probability is spread over many paths.  With ``beam=1`` it keeps one prefix
per frame, which agrees with the best path on sharply peaked posteriors (as a
trained model's usually are) but may differ on flat ones; ``decode`` uses the
best path for ``beam=1``.  An optional language model adds
``lm_weight * lm(prefix, token)`` (a log-probability) each time a token is
appended.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

NEG_INF = float("-inf")
LanguageModel = Callable[[tuple[int, ...], int], float]


def greedy_decode(log_probs: torch.Tensor, lens: torch.Tensor | None = None, blank: int = 0
                  ) -> list[list[int]]:
    """Best path of each utterance of ``[B, T, V]`` (or one ``[T, V]``), valid frames only."""
    if log_probs.dim() == 2:
        log_probs = log_probs[None]
    best = log_probs.argmax(-1).cpu()
    lens = torch.full((best.shape[0],), best.shape[1]) if lens is None else lens.cpu()
    out = []
    for row, n in zip(best.tolist(), lens.tolist()):
        ids, prev = [], None
        for i in row[:n]:
            if i != prev and i != blank:
                ids.append(i)
            prev = i
        out.append(ids)
    return out


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(log_probs: np.ndarray | torch.Tensor, beam: int = 10, blank: int = 0,
                       token_topk: int | None = 40, lm: LanguageModel | None = None,
                       lm_weight: float = 0.0, nbest: int = 1) -> list[tuple[list[int], float]]:
    """The ``nbest`` best prefixes of one utterance's ``[T, V]`` log-probs, best first.

    Each result is ``(ids, score)``: the log-probability of the prefix (summed over
    its paths) plus the weighted LM scores.  ``token_topk`` limits the labels
    tried per frame to the most probable ones (None: all); a prefix's last label
    is always considered for repeats, so scores stay exact for the labels tried.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    lp = log_probs.detach().float().cpu().numpy() if torch.is_tensor(log_probs) else np.asarray(log_probs)
    num_labels = lp.shape[1]
    # prefix -> [log p(paths ending in blank), log p(paths ending in a label)]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG_INF]}
    for frame in lp:
        if token_topk is None or token_topk >= num_labels:
            labels = [c for c in range(num_labels) if c != blank]
        else:
            top = np.argpartition(-frame, token_topk)[:token_topk]
            labels = [int(c) for c in top if c != blank]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix: tuple[int, ...], slot: int, value: float) -> None:
            cell = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            cell[slot] = _logaddexp(cell[slot], value)

        for prefix, (p_b, p_nb) in beams.items():
            total = _logaddexp(p_b, p_nb)
            add(prefix, 0, total + float(frame[blank]))
            last = prefix[-1] if prefix else None
            if last is not None and last not in labels:
                add(prefix, 1, p_nb + float(frame[last]))  # the last label goes on
            for c in labels:
                bonus = lm_weight * lm(prefix, c) if lm is not None else 0.0
                if c == last:
                    add(prefix, 1, p_nb + float(frame[c]))  # repeat: same prefix
                    add(prefix + (c,), 1, p_b + float(frame[c]) + bonus)  # after a blank: new label
                else:
                    add(prefix + (c,), 1, total + float(frame[c]) + bonus)
        ranked = sorted(nxt.items(), key=lambda kv: (-_logaddexp(*kv[1]), kv[0]))
        beams = dict(ranked[:beam])
    ranked = sorted(beams.items(), key=lambda kv: (-_logaddexp(*kv[1]), kv[0]))
    return [(list(prefix), _logaddexp(*scores)) for prefix, scores in ranked[:nbest]]


def beam_decode(log_probs: torch.Tensor, lens: torch.Tensor, beam: int, **kwargs) -> list[list[int]]:
    """`prefix_beam_search` on each utterance of a batch ``[B, T, V]``."""
    lp = log_probs.detach().float().cpu()
    return [prefix_beam_search(lp[i, :int(n)], beam, **kwargs)[0][0] for i, n in enumerate(lens.tolist())]


def decode(log_probs: torch.Tensor, lens: torch.Tensor, beam: int = 1, **kwargs) -> list[list[int]]:
    """Best path for ``beam == 1``, prefix beam search otherwise."""
    return greedy_decode(log_probs, lens) if beam == 1 else beam_decode(log_probs, lens, beam, **kwargs)


def path_log_likelihood(log_probs: torch.Tensor, ids: Sequence[int], blank: int = 0) -> float:
    """log p(ids | log_probs) summed over all CTC paths (via ``F.ctc_loss``)."""
    lp = torch.as_tensor(log_probs, dtype=torch.float32)
    targets = torch.tensor([list(ids)], dtype=torch.long) if ids else torch.zeros(1, 1, dtype=torch.long)
    loss = torch.nn.functional.ctc_loss(lp[:, None], targets, torch.tensor([lp.shape[0]]),
                                        torch.tensor([len(ids)]), blank=blank, reduction="sum")
    return -float(loss)
