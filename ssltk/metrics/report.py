"""Result files of the score CLI: an sclite / ESPnet-like text report and a JSON of numbers.

The text report has a table in ESPnet's RESULTS.md layout (percentages of the
reference length: ``Corr Sub Del Ins Err``, and ``S.Err`` of sentences)
followed by each utterance's alignment in sclite's ``pra`` style::

    id: (utt1)
    Scores: (#C #S #D #I) 3 1 0 1
    REF:  the cat sat ***
    HYP:  the bat sat on
    Eval:     S       I
"""

from __future__ import annotations

import math

from ssltk.metrics.edit_distance import CORRECT, Alignment, ErrorCounts

COLUMNS = ("Snt", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err")


def _pct(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}"


def error_table(rows: list[tuple[str, ErrorCounts]], first: str) -> str:
    """Markdown table, one row per ``(name, counts)``."""
    lines = [f"|{first}|{'|'.join(COLUMNS)}|", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, c in rows:
        s = c.summary()
        cells = [str(s["snt"]), str(s["wrd"])] + [_pct(s[k]) for k in
                                                  ("corr_pct", "sub_pct", "del_pct", "ins_pct",
                                                   "err_pct", "s_err_pct")]
        lines.append(f"|{name}|{'|'.join(cells)}|")
    return "\n".join(lines) + "\n"


def format_alignment(utt: str, alignment: Alignment) -> str:
    """sclite-style REF/HYP/Eval lines of one utterance."""
    c = alignment.counts()
    ref, hyp, ev = [], [], []
    for op, r, h in alignment.ops:
        width = max(len(r or ""), len(h or ""), 3 if (r is None or h is None) else 1)
        ref.append((r if r is not None else "*" * width).ljust(width))
        hyp.append((h if h is not None else "*" * width).ljust(width))
        ev.append(("" if op == CORRECT else op).ljust(width))
    return (f"id: ({utt})\nScores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}\n"
            f"REF:  {' '.join(ref).rstrip()}\nHYP:  {' '.join(hyp).rstrip()}\n"
            f"Eval: {' '.join(ev).rstrip()}\n")

