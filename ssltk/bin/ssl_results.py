"""Summarise an SSL pre-training recipe (egs2/TEMPLATE/ssl1/ssl.sh) into RESULTS.md.

    python -m ssltk.bin.ssl_results --expdir exp --train_set train --valid_set dev --out RESULTS.md

Reads, where present:
``EXPDIR/km{1,2}/<set>/km_score.json`` and ``km_info.yaml`` (``ssltk.bin.kmeans score`` / ``label``),
``EXPDIR/pretrain{1,2}/results.json`` and ``EXPDIR/distill/results.json`` (the trainer's summaries),
and writes three tables: k-means label quality (PNMI, phone and cluster purity per set),
pre-training (best and final ``valid/acc_m``), distillation (best and final ``valid/loss``).
A missing step shows as ``-``; an empty experiment directory is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main

KMEANS = (("km1", "k-means 1"), ("km2", "k-means 2"))
TRAINED = (("pretrain1", "pre-training 1", "valid/acc_m", "upstream.pt"),
           ("pretrain2", "pre-training 2", "valid/acc_m", "upstream.pt"),
           ("distill", "distillation", "valid/loss", "student.pt"))


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_yaml(path: Path) -> dict:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def collect(expdir: Path, sets: list[str]) -> dict:
    """``{"kmeans": [row, ...], "trained": [row, ...]}`` from what ``expdir`` holds."""
    kmeans, trained = [], []
    for name, title in KMEANS:
        for dset in sets:
            info = _read_yaml(expdir / name / dset / "km_info.yaml")
            if not info:
                continue
            score = _read_json(expdir / name / dset / "km_score.json") or {}
            features = str(info.get("upstream", "?"))
            if info.get("layer") is not None and features not in ("mfcc", "fbank"):
                features += f" layer {info['layer']}"
            opts = info.get("upstream_opts") or {}
            if opts:
                features += " (" + ", ".join(f"{k}={v}" for k, v in opts.items()) + ")"
            kmeans.append({"step": title, "dir": f"{name}/{dset}", "features": features,
                           "k": info.get("k"), "set": dset, "frames": info.get("num_frames"),
                           "pnmi": score.get("pnmi"), "phone_purity": score.get("phone_purity"),
                           "cluster_purity": score.get("cluster_purity")})
    for name, title, metric, product in TRAINED:
        results = _read_json(expdir / name / "results.json")
        if results is None:
            continue
        history = results.get("history") or [{}]
        config = _read_yaml(expdir / name / "config.yaml")
        trained.append({"step": title, "dir": name, "metric": metric,
                        "best": results.get("best_value"), "best_epoch": results.get("best_epoch"),
                        "final": history[-1].get(metric), "epochs": results.get("epochs"),
                        "steps": results.get("steps"), "finished": results.get("finished"),
                        "product": f"{name}/{product}" if (expdir / name / product).is_file() else "-",
                        "model": _describe_model(config)})
    costs = _costs(expdir, [r for r in trained if r["product"] != "-"])
    if not kmeans and not trained:
        raise UserError(f"{expdir}: no k-means labels (km*/<set>/km_info.yaml) and no "
                        "pre-training or distillation results (*/results.json)")
    return {"kmeans": kmeans, "trained": trained, "costs": costs}


# the encoder settings a same-size HuBERT (CNN frontend) reference copies from a MelHuBERT
ENCODER_KEYS = ("num_layers", "hidden_size", "num_heads", "ffn_size", "pos_conv_kernel",
                "pos_conv_groups")


def _costs(expdir: Path, rows: list[dict]) -> list[dict]:
    """Parameters and MACs per second of audio of each exported upstream; after a MelHuBERT,
    the same encoder behind HuBERT's CNN frontend (what the log-Mel input saves)."""
    from ssltk import hub
    from ssltk.bin.upstream_info import cost

    out = []
    for row in rows:
        upstream = hub.load(expdir / row["product"])
        out.append({"model": f"{row['step']}: {row['product']}", **_cost_numbers(cost(upstream))})
        config = upstream.config
        reference = "HuBERT (CNN frontend), the same encoder: reference"
        if getattr(config, "frontend", None) == "fbank" and all(r["model"] != reference for r in out):
            same = hub.load("hubert_base", **{k: getattr(config, k) for k in ENCODER_KEYS})
            out.append({"model": reference, **_cost_numbers(cost(same))})
    return out


def _cost_numbers(numbers: tuple[int, int]) -> dict:
    from ssltk.bin.upstream_info import human

    return {"params": human(numbers[0]), "macs": human(numbers[1])}


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
    lines = ["# Results", "",
             f"Written by `python -m ssltk.bin.ssl_results` (stage 8 of ssl.sh) from {expdir}/. "
             "PNMI, phone and cluster purity compare the k-means labels with phones.ctm "
             "(`-`: no alignment).", "", "## K-means labels", "",
             "| step | features | k | set | frames | PNMI | phone purity | cluster purity |",
             "|---|---|---:|---|---:|---:|---:|---:|"]
    for r in tables["kmeans"]:
        lines.append(f"| {r['step']} | {r['features']} | {_fmt(r['k'])} | {r['set']} | {_fmt(r['frames'])} | "
                     f"{_fmt(r['pnmi'])} | {_fmt(r['phone_purity'])} | {_fmt(r['cluster_purity'])} |")
    lines += ["", "## Pre-training and distillation", "",
              "| step | model | metric | best | best epoch | final | epochs | finished | upstream |",
              "|---|---|---|---:|---:|---:|---:|---|---|"]
    for r in tables["trained"]:
        lines.append(f"| {r['step']} | {r['model']} | {r['metric']} | {_fmt(r['best'])} | "
                     f"{_fmt(r['best_epoch'])} | {_fmt(r['final'])} | {_fmt(r['epochs'])} | "
                     f"{_fmt(r['finished'])} | {r['product']} |")
    if tables["costs"]:
        lines += ["", "## Cost", "", "Parameters and multiply-accumulates per second of audio "
                  "(`python -m ssltk.bin.upstream_info`).", "",
                  "| model | parameters | MACs / s |", "|---|---:|---:|"]
        lines += [f"| {r['model']} | {r['params']} | {r['macs']} |" for r in tables["costs"]]
    lines.append("")
    return "\n".join(lines)


@cli_main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ssl_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="the recipe's experiment directory")
    p.add_argument("--train_set", "--train-set", required=True)
    p.add_argument("--valid_set", "--valid-set", required=True)
    p.add_argument("--out", required=True, help="markdown file to write (RESULTS.md)")
    args = p.parse_args(argv)
    tables = collect(Path(args.expdir), [args.train_set, args.valid_set])
    text = render(tables, args.expdir)
    out = Path(args.out)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:  # unchanged: not rewritten
        write_text_atomic(out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
