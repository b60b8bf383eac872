"""Decode speech with a trained UASR generator; score it when references are given.

    python -m ssltk.bin.uasr_infer --exp exp/gan_s0 --feats dump/fbank/test_nosil \\
        --out exp/gan_s0/decode_test [--data data/test_nosil] [--checkpoint 12epoch.pth] \\
        [--posteriors]

Writes to ``--out``:

- ``hyp.phn``: greedy phone transcripts (best phone per frame, repeats merged, ``<SIL>``
  removed), ``<utt> <phone> ...``;
- ``units``: the best phone id of every generator frame (unit ids, ``<utt> <id> ...``;
  ids index ``phones.txt`` of the experiment);
- ``segments.ctm``: one line per phone run, ``<SIL>`` included (UASR as a segmenter):
  ``<utt> 1 <start> <duration> <phone>``; times are on the original audio when the data
  dir has ``vad_intervals`` (``ssltk.bin.remove_silence``), else on the features;
- with ``--posteriors``: ``posteriors/``, a feature dump of phone posteriorgrams
  (``feats.scp``, ``utt2num_frames``, ``feats_info.yaml``) that downstream tasks take as
  precomputed features (UASR as an upstream);
- with ``--data`` holding ``text.phn``: ``score.json`` (PER and its counts, and the
  majority-phone baseline: every reference phone replaced by the phone most frequent in
  the unpaired text) and ``result.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="experiment dir of ssltk.bin.uasr_train")
    p.add_argument("--feats", required=True, help="feature dump to decode")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data", default=None,
                   help="data dir of the same utterances (text.phn to score, vad_intervals)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file in EXP (default: the best by valid/weighted_lm_ppl)")
    p.add_argument("--posteriors", action="store_true", help="also dump phone posteriorgrams")
    p.add_argument("--batch_size", type=int, default=64)
    return p


def majority_phone(exp: Path) -> str | None:
    """The most frequent non-SIL phone of the unpaired text (first of ``phones.txt``)."""
    import yaml

    from ssltk.uasr.data import SIL
    from ssltk.uasr.text import read_phone_inventory

    meta = yaml.safe_load((exp / "uasr.yaml").read_text(encoding="utf-8"))
    inventory = Path(meta["lm"]).parent / "phones.txt"
    phones = read_phone_inventory(inventory) if inventory.is_file() else meta["phones"]
    return next((p for p in phones if p != SIL), None)


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import json

    import kaldiio
    import numpy as np
    import torch
    import yaml

    from ssltk.data.datadir import write_json, write_table, write_text_atomic
    from ssltk.metrics.edit_distance import ErrorCounts, count_errors
    from ssltk.uasr.data import SpeechSet
    from ssltk.uasr.gan import load_trained

    exp, out = Path(args.exp), Path(args.out)
    model = load_trained(exp, args.checkpoint)
    data = Path(args.data) if args.data else None
    ref_dir = data if data is not None and (data / "text.phn").is_file() else None
    speech = SpeechSet(args.feats, ref_dir=ref_dir)
    if speech.dim != model.generator.proj.in_channels:
        raise SystemExit(f"uasr_infer: {args.feats} has {speech.dim}-dim features, the model "
                         f"takes {model.generator.proj.in_channels}")
    intervals = None
    if data is not None and (data / "vad_intervals").is_file():
        from ssltk.uasr.vad import read_intervals

        intervals = read_intervals(data / "vad_intervals")
    step = model.cfg.generator.stride / speech.frame_rate  # seconds per generator frame

    hyps, units, ctm, posts = {}, {}, [], {}
    for batch in speech.eval_batches(args.batch_size):
        for utt, d in zip(batch["utts"], model.decode(batch["feats"], batch["feat_lens"])):
            hyps[utt] = " ".join(model.hypothesis(d["runs"]))
            units[utt] = " ".join(map(str, d["units"]))
            for phone, first, count in d["runs"]:
                start, end = first * step, (first + count) * step
                if intervals is not None:
                    from ssltk.uasr.vad import to_original_time

                    start = to_original_time(start, intervals[utt])
                    end = to_original_time(end, intervals[utt])
                ctm.append((utt, start, end - start, phone))
            if args.posteriors:
                posts[utt] = d["logits"].float().softmax(dim=-1).numpy()
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "hyp.phn", hyps)
    write_table(out / "units", units)
    ctm.sort(key=lambda r: (r[0].encode(), r[1]))
    write_text_atomic(out / "segments.ctm", "".join(
        f"{u} 1 {s:.3f} {d:.3f} {p}\n" for u, s, d, p in ctm))
    if args.posteriors:
        pdir = out / "posteriors"
        pdir.mkdir(exist_ok=True)
        with kaldiio.WriteHelper(f"ark,scp:{pdir / 'feats.ark'},{pdir / 'feats.scp'}") as w:
            for utt in sorted(posts, key=str.encode):
                w(utt, posts[utt].astype(np.float32))
        write_table(pdir / "utt2num_frames", {u: str(len(p)) for u, p in posts.items()})
        info = {"upstream": f"uasr:{exp}", "layer": None, "weights": None, "layer_norm": False,
                "dim": len(model.phones), "frame_rate": 1.0 / step, "phones": model.phones}
        write_text_atomic(pdir / "feats_info.yaml", yaml.safe_dump(info, sort_keys=False,
                                                                  allow_unicode=True))
    print(f"uasr_infer: {len(hyps)} utterances -> {out}", file=sys.stderr)
    if ref_dir is None:
        return 0

    total, baseline = ErrorCounts(), ErrorCounts()
    major = majority_phone(exp)
    for utt, ref in zip(speech.utts, speech.refs):
        total += count_errors(ref, hyps[utt].split())
        baseline += count_errors(ref, [major] * len(ref))
    score = {"per": round(100 * total.rate, 2), **total.summary(),
             "majority_phone": major, "majority_per": round(100 * baseline.rate, 2),
             "checkpoint": args.checkpoint or "best (valid/weighted_lm_ppl)",
             "utts": len(hyps)}
    write_json(out / "score.json", score)
    write_text_atomic(out / "result.txt", json.dumps(score, indent=1, ensure_ascii=False) + "\n")
    print(f"uasr_infer: PER {score['per']:.2f}% ({total.errors}/{total.ref_len}); majority-phone "
          f"baseline ({major}) {score['majority_per']:.2f}%", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
