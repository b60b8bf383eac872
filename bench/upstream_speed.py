"""Upstream speed and memory: ssltk against Hugging Face transformers and torchaudio.

The same random HuBERT-base weights (a Hugging Face model saved once) run in
  (a) one 10 s utterance,
  (b) a batch of 8 utterances of mixed 2-15 s lengths (padded),
  (c) 200 utterances of a data dir: ``ssltk.bin.extract_feats`` against a
      per-utterance loop over the Hugging Face model writing the same kaldiio ark.
Each (peer, case) runs in its own process (so peak RSS is its own), with
``--threads`` intra-op threads, one warm-up and ``--runs`` timed runs; the
table gives medians and ratios against ssltk from the same invocation.

    tools/venv/bin/python bench/upstream_speed.py [--runs 5] [--threads 2] [--data DIR]

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

import numpy as np
import torch

from load_memory import peak_rss_mb

HERE = Path(__file__).resolve().parent
BATCH_SECONDS = [2.0, 3.5, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0]
MARK_BEGIN, MARK_END = markers("upstream_speed")


def make_model_dir(path: Path) -> None:
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    model = HubertModel(HubertConfig())  # HuBERT base: 12 x 768, group-norm CNN
    with torch.no_grad():  # move every parameter off its init so nothing is trivially zero/one
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.save_pretrained(path)


def make_data_dir(path: Path, fsdd: Path | None, num: int = 200) -> str:
    """200 utterances: FSDD recordings when available (real speech), else noise bursts."""
    from ssltk.data.datadir import write_table

    path.mkdir(parents=True, exist_ok=True)
    if fsdd and (fsdd / "recordings").is_dir():
        files = sorted((fsdd / "recordings").glob("*.wav"))[:: 3000 // num][:num]
        write_table(path / "wav.scp", {f.stem: str(f) for f in files})
        source = f"{num} FSDD recordings (8 kHz, read at 16 kHz)"
    else:
        import soundfile as sf

        rng = np.random.default_rng(0)
        wav_scp = {}
        for i in range(num):
            f = path / f"utt{i:03d}.wav"
            sf.write(f, 0.1 * rng.standard_normal(int(16000 * rng.uniform(1, 4))), 16000)
            wav_scp[f"utt{i:03d}"] = str(f)
        write_table(path / "wav.scp", wav_scp)
        source = f"{num} random-noise utterances of 1-4 s"
    write_table(path / "utt2spk", {u: u for u in (path / "wav.scp").read_text().split()[::2]})
    return source


def batch_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    seconds = [10.0] if case == "a" else BATCH_SECONDS
    lens = torch.tensor([int(16000 * s) for s in seconds])
    wavs = torch.randn(len(lens), int(lens.max()), generator=gen) * 0.1
    for i, n in enumerate(lens):
        wavs[i, n:] = 0
    return wavs, lens


def forward_fn(peer: str, model_dir: Path):
    """A callable ``(wavs, lens) -> last hidden state`` for a peer, weights from model_dir."""
    if peer == "ssltk":
        from ssltk import hub

        model = hub.load(model_dir)
        return lambda w, n: model(w, n)[0][-1]
    from transformers import HubertModel

    hf = HubertModel.from_pretrained(model_dir, attn_implementation="sdpa").eval()
    if peer == "hf":
        # HuBERT-base takes no attention mask (as its feature extractor says); padding is
        # then attended, which is the peer's usual batched behaviour
        return lambda w, n: hf(w).last_hidden_state
    from torchaudio.models.wav2vec2.utils import import_huggingface_model

    ta = import_huggingface_model(hf).eval()
    return lambda w, n: ta(w, n)[0]


def time_runs(fn, runs: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def worker(args) -> dict:
    torch.set_num_threads(args.threads)
    model_dir, case = Path(args.model_dir), args.case
    with torch.inference_mode():
        if case in ("a", "b"):
            wavs, lens = batch_inputs(case)
            fn = forward_fn(args.worker, model_dir)
            times = time_runs(lambda: fn(wavs, lens), args.runs)
        elif args.worker == "ssltk":
            times = time_runs(lambda: extract_with_ssltk(model_dir, Path(args.data)), args.runs)
        else:
            fn = forward_fn("hf", model_dir)
            times = time_runs(lambda: extract_per_utterance(fn, Path(args.data)), args.runs)
    return {"median": statistics.median(times), "times": times, "peak_rss_mb": peak_rss_mb()}


def extract_with_ssltk(model_dir: Path, data: Path) -> None:
    from ssltk.bin.extract_feats import main

    with tempfile.TemporaryDirectory() as out:
        main(["--upstream", str(model_dir), "--data", str(data), "--out", out, "--nj", "1"])


def extract_per_utterance(fn, data: Path) -> None:
    import kaldiio

    from ssltk.data.audio import load_audio
    from ssltk.data.datadir import read_table

    with tempfile.TemporaryDirectory() as out:
        with kaldiio.WriteHelper(f"ark,scp:{out}/feats.ark,{out}/feats.scp") as writer:
            for utt, entry in read_table(data / "wav.scp").items():
                samples, _ = load_audio(entry, target_rate=16000, utt=utt)
                wav = torch.from_numpy(samples)[None]
                writer[utt] = fn(wav, torch.tensor([wav.shape[1]]))[0].numpy()


def run_worker(peer: str, case: str, args, model_dir: Path, data: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--worker", peer, "--case", case,
           "--model-dir", str(model_dir), "--data", str(data), "--runs", str(args.runs),
           "--threads", str(args.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{peer}/{case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(results: dict, args, source: str) -> str:
    names = {"a": "(a) one 10 s utterance", "b": "(b) batch of 8, 2-15 s",
             "c": "(c) 200 utterances, data dir -> ark"}
    peers = {"ssltk": "ssltk", "hf": "HF transformers (sdpa)", "torchaudio": "torchaudio",
             "hf_loop": "HF per-utterance loop"}
    lines = [MARK_BEGIN, "",
             f"HuBERT-base size, same random weights; {args.threads} threads, median of "
             f"{args.runs} runs after one warm-up; torch {torch.__version__}; "
             f"CPU: {cpu_name()}; run on {time.strftime('%Y-%m-%d')}. (c) data: {source}.", "",
             "| case | peer | median s | peer / ssltk time | peak RSS MB |",
             "|---|---|---:|---:|---:|"]
    for case, by_peer in results.items():
        ours = by_peer["ssltk"]["median"]
        for peer, r in by_peer.items():
            ratio = "1.00" if peer == "ssltk" else f"{r['median'] / ours:.2f}"
            lines.append(f"| {names[case]} | {peers[peer]} | {r['median']:.3f} | {ratio} | "
                         f"{r['peak_rss_mb']:.0f} |")
    lines += ["", "Ratios above 1 mean ssltk is faster. Reproduce: "
              f"`tools/venv/bin/python bench/upstream_speed.py --runs {args.runs} "
              f"--threads {args.threads}`", "", MARK_END]
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", help="data dir for (c); default: 200 FSDD utterances")
    p.add_argument("--cases", default="abc")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    fsdd = Path(os.environ.get("FSDD", HERE.parents[1] / "shared" / "data" / "fsdd"))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = Path(tmp) / "hubert_base_hf", Path(args.data or Path(tmp) / "data")
        make_model_dir(model_dir)
        source = f"the data dir {args.data}" if args.data else make_data_dir(data, fsdd)
        plan = {"a": ["ssltk", "hf", "torchaudio"], "b": ["ssltk", "hf", "torchaudio"],
                "c": ["ssltk", "hf_loop"]}
        results = {}
        for case in args.cases:
            results[case] = {}
            for peer in plan[case]:
                results[case][peer] = r = run_worker(peer, case, args, model_dir, data)
                print(f"{case} {peer}: median {r['median']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
                      file=sys.stderr)
    section = report(results, args, source)
    write_section("upstream_speed", section, "Upstream speed")
    print(section)


if __name__ == "__main__":
    main()
