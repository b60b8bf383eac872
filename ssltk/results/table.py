"""Shared pieces of the RESULTS.md tables: cells, mean ± std over seeds, run names."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

SEED_SUFFIX = re.compile(r"^(.*)_s(\d+)$")  # runs of one system with several seeds


def fmt(value, digits: int = 2) -> str:
    """A table cell: floats with ``digits`` decimals, ``-`` for a missing or NaN value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def mean_std(values, digits: int = 2) -> str:
    """``"mean ± std"`` (sample std; ``-`` for one value) of the numbers among ``values``;
    ``-`` when there are none."""
    values = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not values:
        return "-"
    std = f"{statistics.stdev(values):.{digits}f}" if len(values) > 1 else "-"
    return f"{statistics.mean(values):.{digits}f} ± {std}"


def system_of(run: str) -> str:
    """``<name>`` of a run named ``<name>_s<seed>``, else the run's own name."""
    match = SEED_SUFFIX.match(run)
    return match.group(1) if match else run


def natural_key(path: str | Path) -> list:
    """Sort key with numbers compared as numbers (k1, k5, k20)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def merge_seeds(rows: list[dict], key: str = "experiment", same: tuple[str, ...] = ()) -> list[dict]:
    """Rows whose ``key`` is ``<base>_s<seed>`` become one row ``<base>_s*`` (where the first
    of them was) holding ``same`` (copied from the first), ``mean_std`` of every other
    field and ``seeds`` (their number); other rows are kept as they are."""
    groups: dict[str, list[dict]] = {}
    out: list[dict | str] = []
    for row in rows:
        if not SEED_SUFFIX.match(row[key]):
            out.append(row)
            continue
        base = system_of(row[key])
        if base not in groups:
            groups[base] = []
            out.append(base)
        groups[base].append(row)
    merged = []
    for row in out:
        if isinstance(row, dict):
            merged.append(row)
            continue
        members = groups[row]
        new = {key: f"{row}_s*", **{k: members[0].get(k) for k in same}}
        for field in [k for k in members[0] if k != key and k not in same]:
            if any(isinstance(m.get(field), (int, float)) for m in members):
                new[field] = mean_std([m.get(field) for m in members])
        merged.append({**new, "seeds": len(members)})
    return merged


def markdown_table(header: list[str], align: str, rows: list[list]) -> list[str]:
    """Lines of a markdown table; ``align`` has one letter per column (``l`` or ``r``);
    cells go through `fmt` unless they are strings already."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    lines += ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |" for row in rows]
    return lines
