"""Fast CPU inference: ssltk in float32, bfloat16 and int8 (dynamic quantisation of the
Linear layers, ``ssltk.compress.quantize``) against Hugging Face float32, and what the
reduced precision costs downstream.

(1) Speed: HuBERT-base size (the same random weights in every peer, a Hugging Face model
    saved once), a batch of 4 utterances of 2-8 s, each peer in its own process with
    ``--threads`` threads, one warm-up and ``--runs`` timed runs; medians, and each peer's
    time divided by ssltk int8's.
(2) Accuracy: FSDD digit classification on ssltk's reference upstream (``ssltk_mini``, one
    layer): a head trained on float32 features (``egs2/fsdd/cls1`` data, made here by its
    local/data.sh), then evaluated on test features extracted in each precision.

    tools/venv/bin/python bench/fast_inference.py [--runs 5] [--threads 2] [--skip-accuracy]

Results go to bench/RESULTS.md (its "fast_inference" section).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from load_memory import peak_rss_mb
from results_file import markers, write_section
from upstream_speed import cpu_name, make_model_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECONDS = [2.0, 4.0, 6.0, 8.0]
PEERS = {"ssltk_float32": "ssltk float32", "ssltk_bfloat16": "ssltk bfloat16 (autocast)",
         "ssltk_int8": "ssltk int8 (dynamic)", "hf_float32": "HF transformers float32 (sdpa)"}
MARK_BEGIN, MARK_END = markers("fast_inference")


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    lens = torch.tensor([int(16000 * s) for s in SECONDS])
    wavs = torch.randn(len(lens), int(lens.max()), generator=gen) * 0.1
    for i, n in enumerate(lens):
        wavs[i, n:] = 0
    return wavs, lens


def worker(peer: str, model_dir: Path, runs: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    wavs, lens = inputs()
    device = torch.device("cpu")
    if peer.startswith("ssltk"):
        from ssltk import hub
        from ssltk.compress.quantize import autocast, for_inference

        precision = peer.split("_", 1)[1]
        model = for_inference(hub.load(model_dir).eval(), precision, device)

        def run():
            with autocast(precision, device):
                return model(wavs, lens)[0][-1]
    else:
        from transformers import HubertModel

        hf = HubertModel.from_pretrained(model_dir, attn_implementation="sdpa").eval()

        def run():
            return hf(wavs).last_hidden_state
    times = []
    with torch.inference_mode():
        run()  # warm-up
        for _ in range(runs):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "times": times, "peak_rss_mb": peak_rss_mb()}


def run_worker(peer: str, args, model_dir: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--worker", peer, "--model-dir", str(model_dir),
           "--runs", str(args.runs), "--threads", str(args.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{peer} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def accuracy(work: Path, threads: int) -> dict[str, float]:
    """Digit accuracy of one head (trained on float32 features) on test features of each precision."""
    recipe = ROOT / "egs2" / "fsdd" / "cls1"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    py = [sys.executable, "-m"]

    def call(*args: str) -> None:
        subprocess.run([*py, *args], check=True, env=env, cwd=recipe, stdout=subprocess.DEVNULL)

    if not (recipe / "data" / "test" / "wav.scp").is_file():
        subprocess.run(["./cls.sh", "--stage", "1", "--stop_stage", "2", "--train_set", "train",
                        "--valid_set", "dev", "--test_sets", "test", "--train_config",
                        "conf/tuning/train_efficient.yaml"], check=True, env=env, cwd=recipe)
    layer = ["--layer", "4"]
    for split in ("train", "dev"):
        call("ssltk.bin.extract_feats", "--upstream", "ssltk_mini", *layer, "--device", "cpu",
             "--data", f"data/{split}", "--out", str(work / f"{split}_float32"))
    call("ssltk.bin.train", "--task", "cls", "--config", "conf/tuning/train_efficient.yaml", "--feats",
         "--train", str(work / "train_float32"), "--valid", str(work / "dev_float32"),
         "--exp", str(work / "exp"), "--override", "cls.label_table=utt2category")
    scores = {}
    for precision in ("float32", "bfloat16", "int8"):
        dump, decode = work / f"test_{precision}", work / f"decode_{precision}"
        call("ssltk.bin.extract_feats", "--upstream", "ssltk_mini", *layer, "--device", "cpu",
             "--precision", precision, "--data", "data/test", "--out", str(dump))
        call("ssltk.bin.infer", "--exp", str(work / "exp"), "--data", str(dump), "--out", str(decode))
        call("ssltk.bin.score", "--exp", str(work / "exp"), "--data", str(dump), "--decode", str(decode),
             "--out", str(decode / "result.txt"))
        scores[precision] = json.loads((decode / "result.json").read_text())["metrics"]["acc"]
    return scores


def report(results: dict, scores: dict | None, args) -> str:
    ref = results["ssltk_int8"]["median"]
    lines = [MARK_BEGIN, "",
             f"(1) HuBERT-base size, same random weights; batch of {len(SECONDS)} utterances "
             f"({', '.join(f'{s:g}' for s in SECONDS)} s); {args.threads} threads, median of {args.runs} runs "
             f"after one warm-up; torch {torch.__version__}; CPU: {cpu_name()}; run on {time.strftime('%Y-%m-%d')}.", "",
             "| peer | median s | time / ssltk int8 | peak RSS MB |", "|---|---:|---:|---:|"]
    for peer, r in results.items():
        lines.append(f"| {PEERS[peer]} | {r['median']:.3f} | {r['median'] / ref:.2f} | {r['peak_rss_mb']:.0f} |")
    if scores:
        lines += ["", "(2) FSDD digit accuracy (test, 300 utterances) of one head trained on float32 "
                  "features of `ssltk_mini` hidden state 4, the test features extracted in each precision:", "",
                  "| test features | accuracy | change |", "|---|---:|---:|"]
        for precision, acc in scores.items():
            lines.append(f"| {precision} | {acc:.2f} | {acc - scores['float32']:+.2f} |")
    lines += ["", f"Reproduce: `tools/venv/bin/python bench/fast_inference.py --runs {args.runs} "
              f"--threads {args.threads}`", "", MARK_END]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.model_dir), args.runs, args.threads)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "hubert_base_hf"
        make_model_dir(model_dir)
        results = {}
        for peer in PEERS:
            results[peer] = r = run_worker(peer, args, model_dir)
            print(f"{peer}: median {r['median']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB", file=sys.stderr)
        scores = None if args.skip_accuracy else accuracy(Path(tmp), args.threads)
    section = report(results, scores, args)
    write_section("fast_inference", section, "Fast CPU inference (bfloat16, int8)")
    print(section)


if __name__ == "__main__":
    main()
