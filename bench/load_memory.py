"""Upstream load memory: peak RSS of import + load + one forward, ssltk against Hugging Face.

The same random HuBERT-base weights (a Hugging Face model saved once, as in
upstream_speed.py) are also written as a fairseq checkpoint and in ssltk's own format.
Each (peer, checkpoint) runs ``--runs`` times, each time in a fresh process that imports
its library, loads the model and runs one 10 s utterance under ``torch.inference_mode``;
the table gives median peak RSS (``VmHWM``, once after loading and once at the end)
and the ratio to Hugging Face transformers' ``HubertModel`` from the same invocation.

    tools/venv/bin/python bench/load_memory.py [--runs 3] [--threads 1]

Results go to bench/RESULTS.md (the section between the markers is replaced).
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

from results_file import markers, write_section

MARK_BEGIN, MARK_END = markers("load_memory")
PEERS = {  # name: (library, checkpoint file or directory in the temporary folder)
    "hf": ("HF transformers", "hubert_base_hf"),
    "ssltk_hf": ("ssltk", "hubert_base_hf"),
    "ssltk_fairseq": ("ssltk", "hubert_base_fairseq.pt"),
    "ssltk_own": ("ssltk", "hubert_base_ssltk.pt"),
}
CHECKPOINTS = {"hubert_base_hf": "HF directory (safetensors)", "hubert_base_fairseq.pt": "fairseq .pt",
               "hubert_base_ssltk.pt": "ssltk .pt"}


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``). Not ``ru_maxrss``: that carries over the
    parent's peak into a child started by ``subprocess`` (fork or vfork, then exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def worker(peer: str, path: Path, threads: int) -> dict:
    """Import, load and run one 10 s utterance; only what the peer itself needs is imported."""
    import torch

    torch.set_num_threads(threads)
    wav = torch.randn(1, 160000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.inference_mode():
        if peer == "hf":
            from transformers import HubertModel

            model = HubertModel.from_pretrained(path, attn_implementation="sdpa").eval()
            loaded = peak_rss_mb()
            model(wav)
        else:
            from ssltk import hub

            model = hub.load(path)
            loaded = peak_rss_mb()
            model(wav, torch.tensor([wav.shape[1]]))
    return {"peak_after_load_mb": loaded, "peak_mb": peak_rss_mb()}


def make_checkpoints(folder: Path) -> None:
    """One set of random weights in the three layouts of ``CHECKPOINTS``."""
    import torch

    from ssltk import hub
    from ssltk.upstream.checkpoint import save_s3prl_hubert, save_ssltk
    from upstream_speed import make_model_dir

    make_model_dir(folder / "hubert_base_hf")
    upstream = hub.load(folder / "hubert_base_hf")
    save_ssltk(upstream, folder / "hubert_base_ssltk.pt")
    # fairseq layout: the s3prl converted dict holds fairseq's config fields and names
    s3prl = torch.load(save_s3prl_hubert(upstream, folder / "s3prl.pt"), weights_only=True)
    fairseq = {"cfg": {"model": s3prl["model_cfg"], "task": s3prl["task_cfg"]}, "model": s3prl["model_weight"]}
    torch.save(fairseq, folder / "hubert_base_fairseq.pt")
    (folder / "s3prl.pt").unlink()


def run_worker(peer: str, path: Path, threads: int) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--worker", peer, "--path", str(path), "--threads", str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{peer} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(results: dict[str, list[dict]], args) -> str:
    import torch
    import transformers

    median = {peer: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for peer, runs in results.items()}
    hf = median["hf"]["peak_mb"]
    lines = [MARK_BEGIN, "",
             f"HuBERT-base size, same random weights; import + load + one 10 s utterance, each run "
             f"in a fresh process; median of {args.runs} runs; {args.threads} thread(s); torch "
             f"{torch.__version__}, transformers {transformers.__version__}; run on {time.strftime('%Y-%m-%d')}.", "",
             "| peer | checkpoint | peak RSS after load MB | peak RSS MB | peak / HF peak |",
             "|---|---|---:|---:|---:|"]
    for peer, m in median.items():
        library, checkpoint = PEERS[peer]
        lines.append(f"| {library} | {CHECKPOINTS[checkpoint]} | {m['peak_after_load_mb']:.0f} | "
                     f"{m['peak_mb']:.0f} | {m['peak_mb'] / hf:.3f} |")
    lines += ["", "Ratios below 1 mean ssltk needs less memory. Reproduce: "
              f"`tools/venv/bin/python bench/load_memory.py --runs {args.runs} --threads {args.threads}`",
              "", MARK_END]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.path), args.threads)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_checkpoints(Path(tmp))
        results: dict[str, list[dict]] = {peer: [] for peer in PEERS}
        for _ in range(args.runs):  # interleaved, so that a change in machine load hits every peer
            for peer, (_, checkpoint) in PEERS.items():
                results[peer].append(r := run_worker(peer, Path(tmp) / checkpoint, args.threads))
                print(f"{peer}: peak RSS {r['peak_mb']:.0f} MB (after load {r['peak_after_load_mb']:.0f})",
                      file=sys.stderr)
    section = report(results, args)
    write_section("load_memory", section, "Upstream load memory")
    print(section)


if __name__ == "__main__":
    main()
