"""RESULTS.md of a compression study (`ssltk.compress.study`): one row per compressed
upstream with its cost (``<upstreams>/cost.yaml``) and, per downstream task, the mean ± std
over seeds of one metric of the experiments ``<expdir>/<task>_<tag>_s<seed>`` on that task's
test set (``decode_<set>/result.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ssltk.compress.study import read_manifest
from ssltk.errors import UserError
from ssltk.metrics.cost import human
from ssltk.results.table import markdown_table, mean_std

COST_FILE = "cost.yaml"


def parse_task(text: str) -> tuple[str, str, str]:
    """``NAME=SET:METRIC`` (e.g. ``digit=test:acc``) -> ``(name, set, metric)``."""
    name, _, rest = text.partition("=")
    test_set, _, metric = rest.partition(":")
    if not (name and test_set and metric):
        raise UserError(f"--task {text!r}: expected NAME=SET:METRIC, e.g. digit=test:acc")
    return name, test_set, metric


def scores(expdir: str | Path, task: str, tag: str, test_set: str, metric: str) -> list[float]:
    """The metric of every seed's run of ``task`` on upstream ``tag``."""
    values = []
    for result in sorted(Path(expdir).glob(f"{task}_{tag}_s*/decode_{test_set}/result.json")):
        metrics = json.loads(result.read_text())["metrics"]
        if metric not in metrics:
            raise UserError(f"{result}: no metric {metric!r} (has {', '.join(metrics)})")
        values.append(float(metrics[metric]))
    return values


def render(upstreams: str | Path, expdir: str | Path, tasks: list[tuple[str, str, str]]) -> str:
    entries = read_manifest(upstreams)
    cost_path = Path(upstreams) / COST_FILE
    costs = {row["tag"]: row for row in yaml.safe_load(cost_path.read_text()) or []} \
        if cost_path.is_file() else {}
    header = ["upstream", "compression", "parameters", "non-zero", "MACs / s", "speed-up",
              *(f"{name} {metric} ({test_set})" for name, test_set, metric in tasks), "seeds"]
    rows = []
    for e in entries:
        cost = costs.get(e.tag, {})
        cells = [e.tag, e.description,
                 human(cost["parameters"]) if cost else "-", human(cost["nonzero"]) if cost else "-",
                 human(cost["macs"]) if cost else "-",
                 f"{cost['speedup']:.2f}x" if cost.get("speedup") else "-"]
        seeds = set()
        for name, test_set, metric in tasks:
            values = scores(expdir, name, e.tag, test_set, metric)
            seeds.add(len(values))
            cells.append(mean_std(values))
        cells.append("/".join(str(n) for n in sorted(seeds)))
        rows.append(cells)
    lines = ["# Results", "",
             "Written by `python -m ssltk.bin.compress_study table`: one row per compressed upstream "
             f"({Path(upstreams) / 'upstreams.yaml'}), its cost measured in one run "
             f"({cost_path}: parameters, non-zero parameters, multiply-accumulates per second of audio "
             "counted densely, extraction speed-up over `none` on the same batch, medians), and per "
             "task the mean ± std over seeds of the test metric (`seeds`: runs per task).", ""]
    return "\n".join(lines + markdown_table(header, "ll" + "r" * (len(header) - 2), rows)) + "\n"
