"""RESULTS.md of an SSL pre-training recipe (egs2/TEMPLATE/ssl1/ssl.sh).

Reads, where present: ``EXPDIR/km{1,2}/<set>/km_score.json`` and ``km_info.yaml``
(``ssltk.bin.kmeans score`` / ``label``), ``EXPDIR/pretrain{1,2}/results.json`` and
``EXPDIR/distill/results.json`` (the trainer's summaries).  Tables: k-means label
quality (PNMI, phone and cluster purity per set), pre-training (best and final
``valid/acc_m``), distillation (best and final ``valid/loss``), and the cost of the
exported upstreams.  A missing step shows as ``-``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ssltk.errors import UserError
from ssltk.metrics.cost import cost, human
from ssltk.results.table import fmt, markdown_table

KMEANS = (("km1", "k-means 1"), ("km2", "k-means 2"))
TRAINED = (("pretrain1", "pre-training 1", "valid/acc_m", "upstream.pt"),
           ("pretrain2", "pre-training 2", "valid/acc_m", "upstream.pt"),
           ("distill", "distillation", "valid/loss", "student.pt"))
# the encoder settings a same-size HuBERT (CNN frontend) reference copies from a MelHuBERT
ENCODER_KEYS = ("num_layers", "hidden_size", "num_heads", "ffn_size", "pos_conv_kernel",
                "pos_conv_groups")


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_yaml(path: Path) -> dict:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _kmeans_row(km: Path, title: str, dset: str) -> dict | None:
    info = _read_yaml(km / dset / "km_info.yaml")
    if not info:
        return None
    score = _read_json(km / dset / "km_score.json") or {}
    features = str(info.get("upstream", "?"))
    if info.get("layer") is not None and features not in ("mfcc", "fbank"):
        features += f" layer {info['layer']}"
    opts = info.get("upstream_opts") or {}
    if opts:
        features += " (" + ", ".join(f"{k}={v}" for k, v in opts.items()) + ")"
    return {"step": title, "dir": f"{km.name}/{dset}", "features": features, "k": info.get("k"),
            "set": dset, "frames": info.get("num_frames"), "pnmi": score.get("pnmi"),
            "phone_purity": score.get("phone_purity"), "cluster_purity": score.get("cluster_purity")}


def collect(expdir: str | Path, sets: list[str]) -> dict:
    """``{"kmeans": [row, ...], "trained": [row, ...], "costs": [row, ...]}`` from ``expdir``."""
    expdir = Path(expdir)
    kmeans = [row for name, title in KMEANS for dset in sets
              if (row := _kmeans_row(expdir / name, title, dset)) is not None]
    trained = []
    for name, title, metric, product in TRAINED:
        results = _read_json(expdir / name / "results.json")
        if results is None:
            continue
        history = results.get("history") or [{}]
        trained.append({"step": title, "dir": name, "metric": metric,
                        "best": results.get("best_value"), "best_epoch": results.get("best_epoch"),
                        "final": history[-1].get(metric), "epochs": results.get("epochs"),
                        "steps": results.get("steps"), "finished": results.get("finished"),
                        "product": f"{name}/{product}" if (expdir / name / product).is_file() else "-",
                        "model": _describe_model(_read_yaml(expdir / name / "config.yaml"))})
    if not kmeans and not trained:
        raise UserError(f"{expdir}: no k-means labels (km*/<set>/km_info.yaml) and no "
                        "pre-training or distillation results (*/results.json)")
    costs = _costs(expdir, [r for r in trained if r["product"] != "-"])
    return {"kmeans": kmeans, "trained": trained, "costs": costs}


def _costs(expdir: Path, rows: list[dict]) -> list[dict]:
    """Parameters and MACs per second of audio of each exported upstream; after a MelHuBERT,
    the same encoder behind HuBERT's CNN frontend (what the log-Mel input saves)."""
    from ssltk import hub

    out = []
    reference = "HuBERT (CNN frontend), the same encoder: reference"
    for row in rows:
        upstream = hub.load(expdir / row["product"])
        out.append({"model": f"{row['step']}: {row['product']}", **_cost_cells(upstream)})
        config = upstream.config
        if getattr(config, "frontend", None) == "fbank" and all(r["model"] != reference for r in out):
            same = hub.load("hubert_base", **{k: getattr(config, k) for k in ENCODER_KEYS})
            out.append({"model": reference, **_cost_cells(same)})
    return out


def _cost_cells(upstream) -> dict:
    params, macs = cost(upstream)
    return {"params": human(params), "macs": human(macs)}


def _describe_model(config: dict) -> str:
    model = config.get("model") if isinstance(config.get("model"), dict) else None
    if model is not None:  # pre-training
        conf = model.get("upstream_conf") or {}
        size = ", ".join(f"{k}={conf[k]}" for k in ("num_layers", "hidden_size") if k in conf)
        return f"{model.get('upstream', '?')}" + (f" ({size})" if size else "")
    distill = config.get("distill") if isinstance(config.get("distill"), dict) else {}
    layers = distill.get("student_layers", "?")
    return f"student: {layers} layer{'' if layers == 1 else 's'} of the teacher"


def render(tables: dict, expdir: str) -> str:
    def cells(row: dict, keys: tuple[str, ...]) -> list[str]:
        return [fmt(row[k], 4) for k in keys]

    lines = ["# Results", "",
             f"Written by `python -m ssltk.bin.ssl_results` (stage 8 of ssl.sh) from {expdir}/. "
             "PNMI, phone and cluster purity compare the k-means labels with phones.ctm "
             "(`-`: no alignment).", "", "## K-means labels", ""]
    lines += markdown_table(["step", "features", "k", "set", "frames", "PNMI", "phone purity",
                             "cluster purity"], "llrlrrrr",
                            [cells(r, ("step", "features", "k", "set", "frames", "pnmi",
                                       "phone_purity", "cluster_purity")) for r in tables["kmeans"]])
    lines += ["", "## Pre-training and distillation", ""]
    lines += markdown_table(["step", "model", "metric", "best", "best epoch", "final", "epochs",
                             "finished", "upstream"], "lllrrrrll",
                            [cells(r, ("step", "model", "metric", "best", "best_epoch", "final",
                                       "epochs", "finished", "product")) for r in tables["trained"]])
    if tables["costs"]:
        lines += ["", "## Cost", "", "Parameters and multiply-accumulates per second of audio "
                  "(`python -m ssltk.bin.upstream_info`).", ""]
        lines += markdown_table(["model", "parameters", "MACs / s"], "lrr",
                                [[r["model"], r["params"], r["macs"]] for r in tables["costs"]])
    lines.append("")
    return "\n".join(lines)
