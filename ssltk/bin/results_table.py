"""Collect scored experiments into a recipe's RESULTS.md.

    python -m ssltk.bin.results_table --expdir exp --out RESULTS.md

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (written by ``ssltk.bin.score``)
and ``EXPDIR/<exp>/config.yaml`` (written by the trainer), and writes one
table per test set: a row per experiment with its upstream, featurizer and
metrics; experiments named ``<name>_s<seed>`` (runs with several seeds) share one
row with the mean ± standard deviation over seeds.  Registry upstreams other than fbank/mfcc are randomly initialised
architectures, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main

BASELINES = ("fbank", "mfcc")


def describe_upstream(upstream: str) -> str:
    if upstream in BASELINES or Path(upstream).exists():
        return upstream
    from ssltk.hub import list_upstreams

    return f"{upstream} (random init)" if upstream in list_upstreams() else upstream


def collect(expdir: Path) -> dict[str, list[dict]]:
    """``{test set: [row, ...]}`` for every scored decode directory."""
    tables: dict[str, list[dict]] = {}
    for result in sorted(expdir.glob("*/decode_*/result.json"), key=_natural):
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


SEED_SUFFIX = re.compile(r"^(.*)_s(\d+)$")


def merge_seeds(rows: list[dict]) -> list[dict]:
    """Rows of experiments named ``<base>_s<seed>`` become one row ``<base>_s*`` holding
    ``"mean ± std"`` (sample std over seeds) of each metric and ``seeds`` (their number)."""
    groups: dict[str, list[dict]] = {}
    out: list[dict] = []
    for row in rows:
        match = SEED_SUFFIX.match(row["experiment"])
        if match is None:
            out.append(row)
            continue
        key = match.group(1)
        if key not in groups:
            groups[key] = []
            out.append({"experiment": f"{key}_s*", "group": key})
        groups[key].append(row)
    for i, row in enumerate(out):
        if "group" not in row:
            continue
        members = groups[row["group"]]
        merged = {"experiment": row["experiment"], "upstream": members[0]["upstream"],
                  "featurizer": members[0]["featurizer"]}
        for metric in [k for k in members[0] if k not in ("experiment", "upstream", "featurizer")]:
            values = [m[metric] for m in members if isinstance(m.get(metric), (int, float))]
            if values:
                merged[metric] = f"{statistics.mean(values):.2f} ± " + (
                    f"{statistics.stdev(values):.2f}" if len(values) > 1 else "-")
        out[i] = {**merged, "seeds": len(members)}
    return out


def _natural(path: Path) -> list:
    """Sort key with numbers compared as numbers (k1, k5, k20)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def render(tables: dict[str, list[dict]]) -> str:
    lines = ["# Results", "", "Written by `python -m ssltk.bin.results_table` from the scored "
             "experiments under exp/ (reports: `exp/<experiment>/decode_<set>/result.txt`).", ""]
    for test_set, rows in tables.items():
        rows = merge_seeds(rows)
        metrics = list(dict.fromkeys(k for row in rows for k in row
                                     if k not in ("experiment", "upstream", "featurizer")))
        lines += [f"## {test_set}", "",
                  "| experiment | upstream | featurizer | " + " | ".join(metrics) + " |",
                  "|---|---|---|" + "---:|" * len(metrics)]
        for row in rows:
            values = [_fmt(row.get(m)) for m in metrics]
            lines.append(f"| {row['experiment']} | {row['upstream']} | {row['featurizer']} | "
                         + " | ".join(values) + " |")
        lines.append("")
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value if value is not None else "-")


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="results_table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="directory holding the experiments")
    p.add_argument("--out", required=True, help="markdown file to write (RESULTS.md)")
    args = p.parse_args(argv)
    tables = collect(Path(args.expdir))
    if not tables:
        raise UserError(f"{args.expdir}: no scored experiments (*/decode_*/result.json)")
    write_text_atomic(args.out, render(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
