#!/usr/bin/env python3
"""Write the model card of the shipped upstreams (ssltk_mini, ssltk_mini_student) from this
recipe's outputs: data (utterances and hours per source), architecture and cost, training
(steps, accuracy, time per step), k-means PNMI, the layer probe, the files and the command.

    python local/model_card.py --expdir exp --weights_dir ../../../ssltk/upstream/weights \\
        --command ./run.sh --out ../../../ssltk/upstream/weights/README.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import soundfile as sf

from ssltk import hub
from ssltk.data.datadir import read_table
from ssltk.metrics.cost import cost, human
from ssltk.results.ssl_pretraining import collect
from ssltk.results.table import fmt, markdown_table

NAMES = ("ssltk_mini", "ssltk_mini_student")
ACCOUNTING = re.compile(r"^# Accounting: time=(\d+)", re.M)


def source_of(utt: str, path: str) -> str:
    if utt.startswith("spk"):
        return "synthetic (espeak-ng, local/data.sh)"
    return "FSDD (takes 10-49, 5 speakers)" if "/recordings/" in path else "AN4 training list"


def data_rows(data: Path) -> list[list[str]]:
    hours: dict[str, list[float]] = {}
    for dset in ("train", "dev"):
        for utt, path in read_table(data / dset / "wav.scp").items():
            key = f"{dset}: {source_of(utt, path)}"
            hours.setdefault(key, []).append(sf.info(path).duration)
    rows = [[k, str(len(v)), f"{sum(v) / 3600:.2f}"] for k, v in sorted(hours.items(), reverse=True)]
    train = [d for k, v in hours.items() if k.startswith("train") for d in v]
    rows.insert(sum(k.startswith("train") for k in hours),
                ["train: total", str(len(train)), f"{sum(train) / 3600:.2f}"])
    return rows


def languages(data: Path) -> str:
    """Synthetic training utterances per language, from the synthetic corpus's own utt2lang
    (data/train combines sources without one, so it has none)."""
    train = set(read_table(data / "train" / "wav.scp"))
    counts: dict[str, int] = {}
    for table in sorted(Path("downloads").glob("synth_pretrain_*/data/train/utt2lang")):
        for utt, lang in read_table(table).items():
            if utt in train:
                counts[lang] = counts.get(lang, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def seconds(log_dir: Path) -> int:
    return sum(int(m) for log in log_dir.glob("*.log") for m in ACCOUNTING.findall(log.read_text()))


def probe_table(expdir: Path, name: str) -> tuple[list[list[str]], int]:
    rows, best = [], (-1.0, 0)
    for score in sorted((expdir / "probe").glob(f"{name}_l*/dev/km_score.json"),
                        key=lambda p: int(p.parent.parent.name.rsplit("_l", 1)[1])):
        layer = int(score.parent.parent.name.rsplit("_l", 1)[1])
        s = json.loads(score.read_text())
        rows.append([str(layer), fmt(s["pnmi"], 4), fmt(s["phone_purity"], 4), fmt(s["cluster_purity"], 4)])
        best = max(best, (s["pnmi"], layer))
    return rows, best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expdir", default="exp")
    parser.add_argument("--data", default="data")
    parser.add_argument("--weights_dir", required=True)
    parser.add_argument("--command", default="./run.sh")
    parser.add_argument("--probe", default="k-means", help="how the layer probe's units were made")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    expdir, data, weights = Path(args.expdir), Path(args.data), Path(args.weights_dir)
    tables = collect(expdir, ["train", "dev"])
    trained = {r["dir"]: r for r in tables["trained"]}
    models = {name: hub.load(weights / f"{name}.pt") for name in NAMES}
    step_seconds = {name: seconds(expdir / name / "log")
                    for name in ("km1", "pretrain1", "km2", "pretrain2", "distill")}
    prep = int((data / ".prep_seconds").read_text()) if (data / ".prep_seconds").is_file() else 0
    probe_seconds = sum(seconds(p / "log") for p in (expdir / "probe").glob("*"))
    total = prep + sum(step_seconds.values())

    lines = ["# ssltk_mini: ssltk's reference upstream (model card)", "",
             "Written by `egs2/ssltk_mini/ssl1/local/model_card.py` from the recipe run that made "
             "these files; every number below comes from that run.", "",
             "| hub name | file | parameters | MACs / s of audio | layers x width | size | sha256 |",
             "|---|---|---:|---:|---|---:|---|"]
    for name, up in models.items():
        path = weights / f"{name}.pt"
        params, macs = cost(up)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        lines.append(f"| `{name}` | `{path.name}` | {human(params)} | {human(macs)} | "
                     f"{up.num_layers} x {up.hidden_size} | {path.stat().st_size / 1e6:.2f} MB | `{digest}...` |")
    cfg = models["ssltk_mini"].config
    lines += ["", "```python", "from ssltk import hub", 'upstream = hub.load("ssltk_mini")   '
              "# real weights, float32 in memory (stored as float16)", "```", "",
              "## Model", "",
              f"- `ssltk_mini`: MelHuBERT (Lin et al., 2023): {cfg.num_mel_bins} log-Mel bins "
              f"(25 ms / 10 ms) stacked to 20 ms frames, a post-LN transformer of {cfg.num_layers} "
              f"layers x {cfg.hidden_size} ({cfg.num_heads} heads, FFN {cfg.ffn_size}, convolutional "
              f"position embedding {cfg.pos_conv_kernel} / {cfg.pos_conv_groups} groups); "
              f"{cfg.num_layers + 1} hidden states (0: the transformer's input). Trained as HuBERT "
              "(Hsu et al., 2021): masked prediction of k-means units, two iterations.",
              "- `ssltk_mini_student`: DistilHuBERT (Chang et al., 2022) of `ssltk_mini`: its front end "
              "and first 2 layers (initialised from it), trained to predict layers 2, 4 and 6.",
              "- Weights stored in float16 (`python -m ssltk.bin.export_upstream --dtype float16`), "
              "computed in float32; the export checks the hidden states against the float32 model. "
              "Pre-training heads are not shipped.", "",
              "## Data", "",
              "All training speech the project reaches offline, no test audio of any evaluation set "
              "(`local/data.sh`): the synthetic `pretrain` corpus (`python -m ssltk.bin.synth_corpus "
              "--kind pretrain`: espeak-ng, voice variants of the other corpora's training speakers "
              "only), the Free Spoken Digit Dataset takes 10-49 of every speaker but `theo` (FSDD's "
              "test set is takes 0-4; `theo` is the held-out few-shot speaker of egs2/fsdd/cls1) and "
              "CMU AN4's training list (its test list is never read). Dev (validation, PNMI): the "
              "synthetic dev split.", ""]
    lines += markdown_table(["set: source", "utterances", "hours"], "lrr", data_rows(data))
    langs = languages(data)
    if langs:
        lines += ["", f"Synthetic training utterances per espeak-ng language: {langs}."]
    lines += ["", "## Training", "",
              "K-means units and their PNMI against the synthetic dev set's espeak-ng phone "
              "alignments (`phones.ctm`):", ""]
    lines += markdown_table(["step", "features", "k", "set", "frames", "PNMI", "phone purity"], "llrlrrr",
                            [[r["step"], r["features"], str(r["k"]), r["set"], str(r["frames"]),
                              fmt(r["pnmi"], 4), fmt(r["phone_purity"], 4)] for r in tables["kmeans"]])
    lines += ["", "Pre-training and distillation (best epoch kept; masked-prediction accuracy on "
              "the dev set's masked frames):", ""]
    rows = []
    for key, title in (("pretrain1", "iteration 1 (MFCC units)"), ("pretrain2", "iteration 2 = ssltk_mini"),
                       ("distill", "distillation = ssltk_mini_student")):
        r = trained.get(key)
        if r:
            rows.append([title, r["metric"], fmt(r["best"], 4), str(r["best_epoch"]), str(r["epochs"]),
                         str(r["steps"]), str(step_seconds[key])])
    lines += markdown_table(["step", "metric", "best", "best epoch", "epochs", "updates", "seconds"],
                            "llrrrrr", rows)
    lines += ["", "## Layer probe", "",
              f"Per hidden state: {args.probe} labels the synthetic dev set, scored against its "
              "phone alignments (PNMI: the units of that hidden state). The best layer is the "
              "one to use where a recipe takes a single layer (e.g. UASR features); it is chosen "
              "here, on the pre-training dev set, never on an evaluation set.", ""]
    for name in NAMES:
        rows, best = probe_table(expdir, name)
        if rows:
            lines += [f"`{name}` (best: hidden state {best}):", ""]
            lines += markdown_table(["hidden state", "PNMI", "phone purity", "cluster purity"], "rrrr", rows)
            lines.append("")
    lines += ["## Budget and reproduction", "",
              f"From a fresh clone (2 CPU cores, both threads to the one running job):", "",
              "```sh", f"make env && cd egs2/ssltk_mini/ssl1 && {args.command}", "```", "",
              "It rewrites the two weight files, their reference hidden states "
              "(`test/data/<name>_reference.npz`, checked by `test/test_shipped_upstreams.py`) and "
              "this card. Time per step of the run behind these files (seconds, from the job logs):", ""]
    budget = [["data preparation (synthesis, FSDD, AN4)", str(prep)],
              ["k-means 1 (MFCC: fit, label, score)", str(step_seconds["km1"])],
              ["pre-training 1", str(step_seconds["pretrain1"])],
              ["k-means 2 (layer of model 1)", str(step_seconds["km2"])],
              ["pre-training 2", str(step_seconds["pretrain2"])],
              ["distillation", str(step_seconds["distill"])],
              ["total (the budget: at most 3 hours)", f"{total} ({total / 3600:.2f} h)"],
              ["layer probe (after training, for this card)", str(probe_seconds)]]
    lines += markdown_table(["step", "seconds"], "lr", budget)
    lines += ["", "## Licence and citations", "",
              "Weights: the project's licence. Training audio: FSDD (CC BY-SA 4.0), CMU AN4 (CMU's "
              "licence), synthetic speech from espeak-ng (GPL-3.0 program; its output is not "
              "covered). See `../shared/data/*/SOURCE.md` of the corpora.",
              "",
              "- W.-N. Hsu et al., HuBERT: Self-supervised speech representation learning by masked "
              "prediction of hidden units, IEEE/ACM TASLP 2021.",
              "- T.-Q. Lin, H.-y. Lee, H. Tang, MelHuBERT: A simplified HuBERT on Mel spectrograms, "
              "ASRU 2023.",
              "- H.-J. Chang, S.-w. Yang, H.-y. Lee, DistilHuBERT: Speech representation learning by "
              "layer-wise distillation of hidden-unit BERT, ICASSP 2022.", ""]
    Path(args.out).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
