"""Pre-training cost of candidate CPU upstreams (MelHuBERT family), to size the reference
upstream of egs2/ssltk_mini/ssl1 within its 2-core budget.

For each architecture: parameters, fp16 size, forward MACs per second of audio
(torch's FLOP counter on a 10 s utterance, MACs = FLOPs / 2), and the median wall time
of a masked-prediction training step (forward, backward, Adam) on a batch of 16 random
3 s utterances (48 s, the recipes' batch), with ``--threads`` intra-op threads, reported
as audio seconds trained per wall second. The peer: the chosen encoder (6 x 256, FFN 768)
behind HuBERT's waveform CNN instead of MelHuBERT's log-Mel input, HuBERT's cosine head;
the last column is each model's training speed relative to that peer (same run).

    tools/venv/bin/python bench/pretrain_cost.py [--threads 2] [--steps 5]

Results go to bench/RESULTS.md (the section between the markers is replaced).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from results_file import markers, write_section

from ssltk.pretraining.masked_prediction import PretrainModelConfig, build_model

CANDIDATES = {  # name -> (layers, hidden, heads, ffn)
    "4x192": (4, 192, 4, 768),
    "6x192": (6, 192, 4, 768),
    "8x192": (8, 192, 4, 768),
    "6x256": (6, 256, 4, 1024),
    "6x256-ffn768": (6, 256, 4, 768),
}
PEER = "6x256-ffn768, HuBERT CNN frontend"
BATCH = 16
SECONDS = 3.0
RATE = 16000


def model_for(layers: int, hidden: int, heads: int, ffn: int, cnn: bool = False):
    encoder = dict(hidden_size=hidden, num_layers=layers, num_heads=heads, ffn_size=ffn,
                   pos_conv_kernel=32, pos_conv_groups=8)
    if cnn:  # HuBERT: waveform CNN, learned mask after the projection, cosine head
        cfg = PretrainModelConfig(upstream="hubert_base", head="cosine", upstream_conf=encoder)
    else:
        cfg = PretrainModelConfig(
            upstream="melhubert_base", head="linear", mask_prob=0.7, mask_length=5,
            mask_before_projection=True, learned_mask=False,
            upstream_conf=dict(num_mel_bins=80, **encoder))
    return build_model(cfg, num_classes=100, label_rate=50.0)


def measure(name: str, steps: int) -> dict:
    model = model_for(*CANDIDATES[name.split(",")[0]], cnn=name == PEER)
    upstream = model.upstream
    params = sum(p.numel() for p in upstream.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        upstream.eval()(torch.randn(1, 10 * RATE), torch.tensor([10 * RATE]))
    macs_per_s = counter.get_total_flops() / 2 / 10
    model.train()
    n = int(SECONDS * RATE)
    frames = int(SECONDS * 50)
    batch = {"wavs": torch.randn(BATCH, n) * 0.1, "wav_lens": torch.full((BATCH,), n),
             "targets": torch.randint(0, 100, (BATCH, frames)),
             "target_lens": torch.full((BATCH,), frames),
             "utts": [f"u{i}" for i in range(BATCH)]}
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        loss, _ = model(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    return {"name": name, "params": params, "fp16_mb": params * 2 / 1e6, "gmacs_per_s": macs_per_s / 1e9,
            "step_s": step_s, "speed": BATCH * SECONDS / step_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for name in [*args.candidates, PEER]:
        row = measure(name, args.steps)
        print(row, flush=True)
        rows.append(row)
    begin, end = markers("pretrain_cost")
    lines = [begin, "",
             f"MelHuBERT (80 log-Mel stacked to 20 ms, linear head, k = 100), batch {BATCH} x "
             f"{SECONDS:g} s, {args.threads} threads, median of {args.steps} training steps:", "",
             "| encoder | parameters | fp16 MB | GMACs / s of audio | step (s) | audio s trained / s "
             "| speed / peer |", "|---|---:|---:|---:|---:|---:|---:|"]
    peer = rows[-1]["speed"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['params'] / 1e6:.2f} M | {r['fp16_mb']:.2f} | "
                     f"{r['gmacs_per_s']:.3f} | {r['step_s']:.2f} | {r['speed']:.1f} | "
                     f"{r['speed'] / peer:.2f} |")
    lines += ["", "The recipe (egs2/ssltk_mini/ssl1) trains the 6x256-ffn768 encoder at about 44 s of "
              "audio per second (21,443 s of training audio in a 491 s epoch): its steps add audio "
              "reading, resampling and validation.", "",
              f"Reproduce: `tools/venv/bin/python bench/pretrain_cost.py --threads {args.threads} "
              f"--steps {args.steps}`", "", end]
    write_section("pretrain_cost", "\n".join(lines), "Pre-training cost of CPU upstreams")


if __name__ == "__main__":
    main()
