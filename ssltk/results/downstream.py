"""RESULTS.md of the downstream recipes: one table per test set, a row per scored experiment.

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (``ssltk.bin.score``) and describes each
experiment from its directory:

* ssltk's (``ssltk.bin.train``): ``config.yaml`` (the trainer's), ``exp.yaml`` (the config
  file it came from) and ``results.json`` (training time: the sum of the epochs' times);
* ESPnet's (``egs2/an4/asr1/local/espnet.sh``): ESPnet's ``config.yaml`` (it holds
  ``version`` and ``encoder``) and ``train_seconds`` (the training stage's wall time).

Experiments named ``<name>_s<seed>`` share one row with the mean ± std over seeds.
Registry upstreams other than fbank/mfcc are randomly initialised architectures, and
the table says so.  With a reference experiment, each row also gets its last metric
divided by the reference's (e.g. CER relative to ESPnet's CER).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ssltk.results.table import markdown_table, merge_seeds, natural_key

DESCRIPTION = ("experiment", "toolkit", "upstream", "featurizer", "config")
TRAIN_TIME = "train time (s)"


def describe_upstream(upstream: str) -> str:
    from ssltk.hub import is_random_init

    return f"{upstream} (random init)" if is_random_init(upstream) else upstream


def _yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _featurizer(conf: dict) -> str:
    featurizer = conf.get("featurizer", "?")
    return f"layer {conf.get('layer')}" if featurizer == "layer" else str(featurizer)


def describe(exp: Path) -> dict:
    """The description columns and the training time of one experiment directory."""
    config = _yaml(exp / "config.yaml")
    if "version" in config and "encoder" in config:  # ESPnet's config.yaml
        frontend, conf = config.get("frontend"), config.get("frontend_conf") or {}
        seconds = exp / "train_seconds"
        described = {"toolkit": f"ESPnet {config['version']}", "config": config.get("config", "?"),
                     TRAIN_TIME: int(seconds.read_text()) if seconds.is_file() else None}
        if frontend == "ssltk":
            return {**described, "upstream": describe_upstream(str(conf.get("upstream", "?"))),
                    "featurizer": _featurizer(conf)}
        return {**described, "upstream": f"{frontend} (ESPnet)", "featurizer": "-"}
    frontend = config.get("frontend", {})
    results = exp / "results.json"
    history = json.loads(results.read_text()).get("history", []) if results.is_file() else []
    return {"toolkit": "ssltk", "upstream": describe_upstream(str(frontend.get("upstream", "?"))),
            "featurizer": _featurizer(frontend),
            "config": _yaml(exp / "exp.yaml").get("config_file", "?"),
            TRAIN_TIME: round(sum(h.get("time", 0) for h in history)) if history else None}


def collect(expdir: str | Path) -> dict[str, list[dict]]:
    """``{test set: [row, ...]}`` for every scored decode directory."""
    tables: dict[str, list[dict]] = {}
    described: dict[Path, dict] = {}
    for result in sorted(Path(expdir).glob("*/decode_*/result.json"), key=natural_key):
        exp = result.parent.parent
        if exp not in described:
            described[exp] = describe(exp)
        numbers = json.loads(result.read_text())
        row = {"experiment": exp.name, **described[exp], **numbers["metrics"]}
        tables.setdefault(result.parent.name[len("decode_"):], []).append(row)
    return tables


def render(tables: dict[str, list[dict]], reference: str | None = None) -> str:
    lines = ["# Results", "", "Written by `python -m ssltk.bin.results_table` from the scored "
             "experiments under exp/ (reports: `exp/<experiment>/decode_<set>/result.txt`; "
             f"{TRAIN_TIME.split(' (')[0]}: wall seconds of the training run on this machine).", ""]
    for test_set, rows in tables.items():
        rows = _with_ratio(rows, reference)
        description = [k for k in DESCRIPTION if k != "toolkit"
                       or any(row["toolkit"] != "ssltk" for row in rows)]
        rows = merge_seeds(rows, "experiment", tuple(description[1:]))
        metrics = list(dict.fromkeys(k for row in rows for k in row if k not in DESCRIPTION))
        lines += [f"## {test_set}", ""]
        lines += markdown_table([*description, *metrics], "l" * len(description) + "r" * len(metrics),
                                [[row[k] for k in description] + [row.get(m) for m in metrics]
                                 for row in rows])
        lines.append("")
    return "\n".join(lines)


def _with_ratio(rows: list[dict], reference: str | None) -> list[dict]:
    """Rows with ``<metric> / <reference>`` added: the last metric of ``result.json``
    divided by the reference experiment's (rows unchanged without a scored reference)."""
    ref = next((row for row in rows if row["experiment"] == reference), None)
    if ref is None:
        return rows
    metric = [k for k in ref if k not in DESCRIPTION and k != TRAIN_TIME][-1]
    column = f"{metric} / {reference}"
    return [{**row, column: row[metric] / ref[metric] if ref[metric] and isinstance(row.get(metric), (int, float))
             else None} for row in rows]
