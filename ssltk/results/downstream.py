"""RESULTS.md of the downstream recipes: one table per test set, a row per scored experiment.

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (``ssltk.bin.score``) and
``EXPDIR/<exp>/config.yaml`` (the trainer's).  Experiments named ``<name>_s<seed>``
share one row with the mean ± std over seeds.  Registry upstreams other than
fbank/mfcc are randomly initialised architectures, and the table says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ssltk.results.table import markdown_table, merge_seeds, natural_key

BASELINES = ("fbank", "mfcc")
DESCRIPTION = ("experiment", "upstream", "featurizer")


def describe_upstream(upstream: str) -> str:
    if upstream in BASELINES or Path(upstream).exists():
        return upstream
    from ssltk.hub import list_upstreams

    return f"{upstream} (random init)" if upstream in list_upstreams() else upstream


def collect(expdir: str | Path) -> dict[str, list[dict]]:
    """``{test set: [row, ...]}`` for every scored decode directory."""
    tables: dict[str, list[dict]] = {}
    for result in sorted(Path(expdir).glob("*/decode_*/result.json"), key=natural_key):
        exp = result.parent.parent
        numbers = json.loads(result.read_text())
        config = yaml.safe_load((exp / "config.yaml").read_text()) if (exp / "config.yaml").is_file() else {}
        frontend = config.get("frontend", {}) if isinstance(config, dict) else {}
        featurizer = frontend.get("featurizer", "?")
        if featurizer == "layer":
            featurizer = f"layer {frontend.get('layer')}"
        row = {"experiment": exp.name, "upstream": describe_upstream(str(frontend.get("upstream", "?"))),
               "featurizer": featurizer, **numbers["metrics"]}
        tables.setdefault(result.parent.name[len("decode_"):], []).append(row)
    return tables


def render(tables: dict[str, list[dict]]) -> str:
    lines = ["# Results", "", "Written by `python -m ssltk.bin.results_table` from the scored "
             "experiments under exp/ (reports: `exp/<experiment>/decode_<set>/result.txt`).", ""]
    for test_set, rows in tables.items():
        rows = merge_seeds(rows, "experiment", DESCRIPTION[1:])
        metrics = list(dict.fromkeys(k for row in rows for k in row if k not in DESCRIPTION))
        lines += [f"## {test_set}", ""]
        lines += markdown_table([*DESCRIPTION, *metrics], "lll" + "r" * len(metrics),
                                [[row[k] for k in DESCRIPTION] + [row.get(m) for m in metrics]
                                 for row in rows])
        lines.append("")
    return "\n".join(lines)
