"""Per-language error rates of code-switched transcripts.

Every reference word carries a language tag (``text.lang``: one tag per word
of ``text``).  After aligning hypothesis words to reference words (see
`ssltk.metrics.edit_distance.align`):

* a correct word, a substitution or a deletion belongs to the language of its
  reference word;
* an insertion has no reference word: it belongs to the language of the
  reference word just before it in the alignment, or, at the start of the
  sentence, of the first reference word after it;
* in a sentence with an empty reference, insertions go to the language
  ``"<none>"``.

A language's WER is its errors over its reference words; the languages'
counts sum to the mixed (all-word) counts.
"""

from __future__ import annotations

from typing import Sequence

from ssltk.errors import UserError
from ssltk.metrics.edit_distance import CORRECT, DEL, INS, SUB, ErrorCounts, align

NO_LANGUAGE = "<none>"


def language_errors(ref: Sequence[str], hyp: Sequence[str], tags: Sequence[str],
                    utt: str = "") -> dict[str, ErrorCounts]:
    """Counts per language for one sentence (``tags[i]`` is the language of ``ref[i]``).

    ``sents`` / ``sent_err`` count the sentences containing the language
    (reference words, or insertions attributed to it) and those with an error
    attributed to it.
    """
    if len(tags) != len(ref):
        where = f"utterance '{utt}': " if utt else ""
        raise UserError(f"{where}{len(ref)} reference words but {len(tags)} language tags")
    ops = align(ref, hyp).ops
    # language of each op: reference position before/after for insertions
    langs: list[str | None] = []
    pos = 0  # index of the next reference word
    for op, _, _ in ops:
        if op == INS:
            langs.append(tags[pos - 1] if pos > 0 else None)
        else:
            langs.append(tags[pos])
            pos += 1
    following = NO_LANGUAGE
    for k in range(len(ops) - 1, -1, -1):  # leading insertions: the next reference word
        if ops[k][0] != INS:
            following = langs[k]
        elif langs[k] is None:
            langs[k] = following
    out: dict[str, ErrorCounts] = {}
    for (op, _, _), lang in zip(ops, langs):
        c = out.setdefault(lang, ErrorCounts())
        c.corr += op == CORRECT
        c.sub += op == SUB
        c.dele += op == DEL
        c.ins += op == INS
    for c in out.values():
        c.sents = 1
        c.sent_err = int(c.errors > 0)
    return out
