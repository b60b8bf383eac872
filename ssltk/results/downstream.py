"""RESULTS.md of the downstream recipes: one table per test set, a row per scored experiment.

Reads ``EXPDIR/<exp>/decode_<set>/result.json`` (``ssltk.bin.score``) and describes each
experiment from its directory:

* ssltk's (``ssltk.bin.train``): ``config.yaml`` (the trainer's: the upstream, how it is used
  (frozen, a ``peft`` method, fine-tuned) and the learning rate), ``exp.yaml`` (the config file
  it came from) and ``results.json`` (training time: the sum of the epochs' times; trainable
  parameters; median training steps per second; peak memory);
* ESPnet's (``egs2/an4/asr1/local/espnet.sh``): ESPnet's ``config.yaml`` (it holds
  ``version`` and ``encoder``) and ``train_seconds`` (the training stage's wall time).

Experiments named ``<name>_s<seed>`` share one row with the mean ± std over seeds.
Each row carries the date its scoring ran (``date``, shown when rows differ in it).

Rows outlive their experiment directories: `save_archive` keeps every row in ``RESULTS.json``
beside ``RESULTS.md``, and `with_archived` adds the archived rows of experiments that are not
under exp/ any more (a recipe rerun for some rows keeps the others, each with its date;
delete a row from the archive to drop it).
Registry upstreams other than fbank/mfcc are randomly initialised architectures, and
the table says so.  With a reference experiment, each row also gets its last metric
divided by the reference's (e.g. CER relative to ESPnet's CER).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import fields
from pathlib import Path

import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError
from ssltk.peft.config import PeftConfig
from ssltk.results.table import markdown_table, merge_seeds, natural_key

DESCRIPTION = ("experiment", "toolkit", "upstream", "featurizer", "method", "lr", "config", "date")
OPTIONAL = {"toolkit": "ssltk", "method": "frozen"}  # shown when some row differs from this
TRAIN_TIME = "train time (s)"
COST = ("trainable params", "steps/s", "peak memory (MiB)")


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
    summary = json.loads(results.read_text()) if results.is_file() else {}
    history = summary.get("history", [])
    speeds = sorted(h["cost/steps_per_sec"] for h in history if "cost/steps_per_sec" in h)
    memory = [h["cost/peak_memory_mb"] for h in history if "cost/peak_memory_mb" in h]
    return {"toolkit": "ssltk", "upstream": describe_upstream(str(frontend.get("upstream", "?"))),
            "featurizer": _featurizer(frontend), "method": _method(frontend),
            "lr": _lr(config),
            "config": _yaml(exp / "exp.yaml").get("config_file", "?"),
            COST[0]: summary.get("trainable_parameters"),
            TRAIN_TIME: round(sum(h.get("time", 0) for h in history)) if history else None,
            COST[1]: speeds[len(speeds) // 2] if speeds else None,
            COST[2]: max(memory) if memory else None}


def _lr(config: dict) -> str | None:
    lr = ((config.get("trainer") or {}).get("optim") or {}).get("lr")
    return None if lr is None else f"{lr:g}"


def _method(frontend: dict) -> str:
    """How the upstream is used: ``frozen``, ``finetune``, or its peft methods (``a+b``)."""
    sections = frontend.get("peft") or {}
    peft = [f.name for f in fields(PeftConfig) if sections.get(f.name) not in (None, False)]
    used = "+".join(peft) if peft else "frozen"
    return f"finetune+{used}" if frontend.get("finetune_upstream") and peft else \
        "finetune" if frontend.get("finetune_upstream") else used


def collect(expdir: str | Path) -> dict[str, list[dict]]:
    """``{test set: [row, ...]}`` for every scored decode directory."""
    tables: dict[str, list[dict]] = {}
    described: dict[Path, dict] = {}
    for result in sorted(Path(expdir).glob("*/decode_*/result.json"), key=natural_key):
        exp = result.parent.parent
        if exp not in described:
            described[exp] = describe(exp)
        numbers = json.loads(result.read_text())
        date = datetime.date.fromtimestamp(result.stat().st_mtime).isoformat()
        row = {"experiment": exp.name, **described[exp], "date": date, **numbers["metrics"]}
        tables.setdefault(result.parent.name[len("decode_"):], []).append(row)
    return tables


def archive_path(results_md: str | Path) -> Path:
    """``RESULTS.json`` beside ``RESULTS.md`` (``RESULTS_x.md`` -> ``RESULTS_x.json``)."""
    return Path(results_md).with_suffix(".json")


def with_archived(tables: dict[str, list[dict]], archive: str | Path) -> dict[str, list[dict]]:
    """``tables`` plus the rows of ``archive`` whose experiment has no row in ``tables``."""
    path = Path(archive)
    if not path.is_file():
        return tables
    try:
        archived = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not a results archive ({err}); fix or delete it") from None
    current = {row["experiment"] for rows in tables.values() for row in rows}
    merged = {name: list(rows) for name, rows in tables.items()}
    for test_set, rows in archived.items():
        kept = [row for row in rows if row.get("experiment") not in current]
        if kept:
            merged.setdefault(test_set, [])
            merged[test_set] = sorted(merged[test_set] + kept, key=lambda r: natural_key(r["experiment"]))
    return merged


def save_archive(tables: dict[str, list[dict]], archive: str | Path) -> None:
    write_text_atomic(archive, json.dumps(tables, indent=1) + "\n")


def render(tables: dict[str, list[dict]], reference: str | None = None) -> str:
    lines = ["# Results", "", "Written by `python -m ssltk.bin.results_table` from the scored "
             "experiments under exp/ (reports: `exp/<experiment>/decode_<set>/result.txt`; "
             f"{TRAIN_TIME.split(' (')[0]}: wall seconds of the training run on this machine) and "
             "the rows of earlier runs kept in the archive beside this file (RESULTS.json; "
             "`date`: when a row was scored).", ""]
    for test_set, rows in tables.items():
        rows = _with_ratio(rows, reference)
        description = [k for k in DESCRIPTION if _shown(k, rows)]
        rows = merge_seeds(rows, "experiment", (*description[1:], COST[0]))  # same for every seed
        columns = dict.fromkeys(k for row in rows for k in row if k not in DESCRIPTION
                                and (k not in COST or any(row.get(k) is not None for row in rows)))
        first = [k for k in (COST[0], TRAIN_TIME, *COST[1:]) if k in columns]  # the same place in every table
        metrics = first + [k for k in columns if k not in first]
        lines += [f"## {test_set}", ""]
        lines += markdown_table([*description, *metrics], "l" * len(description) + "r" * len(metrics),
                                [[row.get(k, "-") for k in description] + [row.get(m) for m in metrics]
                                 for row in rows])
        lines.append("")
    return "\n".join(lines)


def _shown(column: str, rows: list[dict]) -> bool:
    """Optional columns (toolkit, method) only when some row differs from the default; the
    learning rate only when rows differ in it."""
    if column in OPTIONAL:
        return any(row.get(column, OPTIONAL[column]) != OPTIONAL[column] for row in rows)
    if column in ("lr", "date"):
        return len({row[column] for row in rows if column in row}) > 1
    return True


def _with_ratio(rows: list[dict], reference: str | None) -> list[dict]:
    """Rows with ``<metric> / <reference>`` added: the last metric of ``result.json``
    divided by the reference experiment's (rows unchanged without a scored reference)."""
    ref = next((row for row in rows if row["experiment"] == reference), None)
    if ref is None:
        return rows
    metric = [k for k in ref if k not in DESCRIPTION and k != TRAIN_TIME and k not in COST][-1]
    column = f"{metric} / {reference}"
    return [{**row, column: row[metric] / ref[metric] if ref[metric] and isinstance(row.get(metric), (int, float))
             else None} for row in rows]
