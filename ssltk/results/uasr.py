"""RESULTS.md of unsupervised ASR runs (egs2/TEMPLATE/uasr1/uasr.sh).

For every ``EXPDIR/<exp>/`` with a ``results.json`` (``ssltk.bin.uasr_train``): the
validation history (``valid/weighted_lm_ppl`` and ``valid/per`` at every checkpoint) and
``decode_<set>/score.json`` (``ssltk.bin.uasr_infer`` with the checkpoint chosen by
``weighted_lm_ppl``).  Tables: PER per system (runs ``<system>_s<seed>`` merged into
mean ± std), the majority-phone baseline, every run with its selected checkpoint, and
the Spearman correlation between ``weighted_lm_ppl`` and PER over the checkpoints of
each run and over all of them pooled.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ssltk.errors import UserError
from ssltk.metrics.correlation import spearman
from ssltk.results.table import fmt, markdown_table, mean_std, natural_key, system_of


def collect(expdir: str | Path) -> list[dict]:
    runs = []
    for results in sorted(Path(expdir).glob("*/results.json"), key=natural_key):
        exp = results.parent
        history = json.loads(results.read_text(encoding="utf-8"))
        points = [(h["epoch"], h["valid/weighted_lm_ppl"], h["valid/per"])
                  for h in history.get("history", [])
                  if math.isfinite(h.get("valid/weighted_lm_ppl", math.nan)) and "valid/per" in h]
        scores = {score.parent.name[len("decode_"):]: json.loads(score.read_text(encoding="utf-8"))
                  for score in sorted(exp.glob("decode_*/score.json"))}
        runs.append({"run": exp.name, "system": system_of(exp.name),
                     "best_epoch": history.get("best_epoch"), "best_value": history.get("best_value"),
                     "epochs": history.get("epochs"), "steps": history.get("steps"),
                     "points": points, "scores": scores,
                     "rho": spearman([p[1] for p in points], [p[2] for p in points])})
    if not runs:
        raise UserError(f"{expdir}: no */results.json (train with ssltk.bin.uasr_train first)")
    return runs


def render(runs: list[dict], note: str = "", expdir: str = "exp") -> str:
    sets = sorted({s for r in runs for s in r["scores"]})
    per_cols = [f"{s} PER" for s in sets]
    lines = ["# Results", "", f"Written by `python -m ssltk.bin.uasr_results` from {expdir}/. PER in %, "
             "phones without `<SIL>`; every run's checkpoint is chosen by `weighted_lm_ppl` on the "
             "validation set (no labels); PER never chooses anything.", ""]
    if note:
        lines += [note, ""]
    rows = []
    first = next((r for r in runs if r["scores"]), None)
    if first:
        phone = next(iter(first["scores"].values())).get("majority_phone")
        rows.append([f"majority-phone baseline (`{phone}` for every phone)", "-"]
                    + [fmt(first["scores"][s].get("majority_per")) if s in first["scores"] else "-"
                       for s in sets])
    for system in dict.fromkeys(r["system"] for r in runs):
        members = [r for r in runs if r["system"] == system]
        rows.append([system, str(len(members))]
                    + [mean_std([r["scores"][s]["per"] for r in members if s in r["scores"]])
                       for s in sets])
    lines += ["## PER", ""] + markdown_table(["system", "runs", *per_cols], "lr" + "r" * len(sets), rows)
    rows = []
    for r in runs:
        oracle = min(r["points"], key=lambda p: p[2]) if r["points"] else None
        rows.append([r["run"], str(r["steps"]), str(r["best_epoch"]), fmt(r["best_value"])]
                    + [fmt(r["scores"][s]["per"]) if s in r["scores"] else "-" for s in sets]
                    + [f"{oracle[2]:.2f} ({oracle[0]})" if oracle else "-", fmt(r["rho"], 3),
                       str(len(r["points"]))])
    lines += ["", "## Runs", ""] + markdown_table(
        ["run", "updates", "selected epoch", "weighted_lm_ppl", *per_cols,
         "lowest validation PER (epoch)", "Spearman(weighted_lm_ppl, PER)", "checkpoints"],
        "lrrr" + "r" * len(sets) + "rrr", rows)
    pooled = [p for r in runs for p in r["points"]]
    rho_all = spearman([p[1] for p in pooled], [p[2] for p in pooled])
    lines += ["", f"Spearman correlation between `weighted_lm_ppl` and validation PER over all "
              f"{len(pooled)} checkpoints of all runs: **{fmt(rho_all, 3)}** (per run: table "
              "above; 1 = the unsupervised metric orders checkpoints exactly as PER does).", ""]
    return "\n".join(lines)
