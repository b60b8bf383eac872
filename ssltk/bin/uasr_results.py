"""Collect UASR experiments into a recipe's RESULTS.md.

    python -m ssltk.bin.uasr_results --expdir exp --out RESULTS.md [--note "..."]

For every ``EXPDIR/<exp>/`` with a ``results.json`` (``ssltk.bin.uasr_train``) it reads
the validation history (``valid/weighted_lm_ppl`` and ``valid/per`` at every
checkpoint) and ``decode_<set>/score.json`` (``ssltk.bin.uasr_infer`` with the checkpoint
chosen by ``weighted_lm_ppl``).  Tables: PER per system (runs named ``<system>_s<seed>``
merged into mean ± std), the majority-phone baseline, every run with its selected
checkpoint, and the Spearman correlation between ``weighted_lm_ppl`` and PER over the
checkpoints of each run and over all of them pooled.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from ssltk.bin.results_table import SEED_SUFFIX, _natural
from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError, cli_main
from ssltk.metrics.correlation import spearman


def collect(expdir: Path) -> list[dict]:
    runs = []
    for results in sorted(expdir.glob("*/results.json"), key=_natural):
        exp = results.parent
        history = json.loads(results.read_text(encoding="utf-8"))
        points = [(h["epoch"], h["valid/weighted_lm_ppl"], h["valid/per"])
                  for h in history.get("history", [])
                  if math.isfinite(h.get("valid/weighted_lm_ppl", math.nan)) and "valid/per" in h]
        scores = {}
        for score in sorted(exp.glob("decode_*/score.json")):
            scores[score.parent.name[len("decode_"):]] = json.loads(score.read_text(encoding="utf-8"))
        match = SEED_SUFFIX.match(exp.name)
        runs.append({"run": exp.name, "system": match.group(1) if match else exp.name,
                     "best_epoch": history.get("best_epoch"), "best_value": history.get("best_value"),
                     "epochs": history.get("epochs"), "steps": history.get("steps"),
                     "points": points, "scores": scores,
                     "rho": spearman([p[1] for p in points], [p[2] for p in points])})
    if not runs:
        raise UserError(f"{expdir}: no */results.json (train with ssltk.bin.uasr_train first)")
    return runs


def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _mean_std(values: list[float], digits: int = 2) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    std = f"{statistics.stdev(values):.{digits}f}" if len(values) > 1 else "-"
    return f"{statistics.mean(values):.{digits}f} ± {std}"


def render(runs: list[dict], note: str = "", expdir: str = "exp") -> str:
    sets = sorted({s for r in runs for s in r["scores"]})
    lines = ["# Results", "", f"Written by `python -m ssltk.bin.uasr_results` from {expdir}/. PER in %, "
             "phones without `<SIL>`; every run's checkpoint is chosen by `weighted_lm_ppl` on the "
             "validation set (no labels); PER never chooses anything.", ""]
    if note:
        lines += [note, ""]
    systems = list(dict.fromkeys(r["system"] for r in runs))
    head = " | ".join(f"{s} PER" for s in sets)
    lines += ["## PER", "", f"| system | runs | {head} |", "|---|---:|" + "---:|" * len(sets)]
    first = next((r for r in runs if r["scores"]), None)
    if first:
        base = [first["scores"][s].get("majority_per") if s in first["scores"] else None for s in sets]
        phone = next(iter(first["scores"].values())).get("majority_phone")
        lines.append(f"| majority-phone baseline (`{phone}` for every phone) | - | "
                     + " | ".join(_fmt(b) for b in base) + " |")
    for system in systems:
        members = [r for r in runs if r["system"] == system]
        cells = [_mean_std([r["scores"][s]["per"] for r in members if s in r["scores"]]) for s in sets]
        lines.append(f"| {system} | {len(members)} | " + " | ".join(cells) + " |")
    pooled = [p for r in runs for p in r["points"]]
    rho_all = spearman([p[1] for p in pooled], [p[2] for p in pooled])
    lines += ["", "## Runs", "",
              "| run | updates | selected epoch | weighted_lm_ppl | "
              + " | ".join(f"{s} PER" for s in sets)
              + " | lowest validation PER (epoch) | Spearman(weighted_lm_ppl, PER) | checkpoints |",
              "|---|---:|---:|---:|" + "---:|" * len(sets) + "---:|---:|---:|"]
    for r in runs:
        oracle = min(r["points"], key=lambda p: p[2]) if r["points"] else None
        cells = [_fmt(r["scores"][s]["per"]) if s in r["scores"] else "-" for s in sets]
        lines.append(f"| {r['run']} | {r['steps']} | {r['best_epoch']} | {_fmt(r['best_value'])} | "
                     + " | ".join(cells) + " | "
                     + (f"{oracle[2]:.2f} ({oracle[0]})" if oracle else "-")
                     + f" | {_fmt(r['rho'], 3)} | {len(r['points'])} |")
    lines += ["", f"Spearman correlation between `weighted_lm_ppl` and validation PER over all "
              f"{len(pooled)} checkpoints of all runs: **{_fmt(rho_all, 3)}** (per run: table "
              "above; 1 = the unsupervised metric orders checkpoints exactly as PER does).", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expdir", required=True, help="directory of experiments")
    p.add_argument("--out", required=True, help="RESULTS.md to write")
    p.add_argument("--note", default="", help="a paragraph under the title (the setup)")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    text = render(collect(Path(args.expdir)), args.note, args.expdir.rstrip("/"))
    write_text_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
