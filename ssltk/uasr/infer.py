"""Decode a feature dump with a trained UASR generator; score it against references.

`infer` writes to its output directory:

- ``hyp.phn``: greedy phone transcripts (best phone per frame, repeats merged, ``<SIL>``
  removed), ``<utt> <phone> ...``;
- ``units``: the best phone id of every generator frame (``<utt> <id> ...``; ids index
  the experiment's phone list);
- ``segments.ctm``: one line per phone run, ``<SIL>`` included (UASR as a segmenter):
  ``<utt> 1 <start> <duration> <phone>``; times are on the original audio when the data
  dir has ``vad_intervals`` (``ssltk.bin.remove_silence``), else on the features;
- with ``posteriors``: ``posteriors/``, a feature dump (`ssltk.data.dump`) of phone
  posteriorgrams, with the input dump's utterance tables.  Its spec names the experiment
  (or the checkpoint file) as the upstream: ``ssltk.hub.load`` of it computes the same
  posteriors from the audio the input features came from (`ssltk.uasr.upstream`);
- with references (``text.phn``): ``score.json`` (PER and its counts, and the
  majority-phone baseline: every reference phone replaced by the phone most frequent in
  the unpaired text) and ``result.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ssltk.data.datadir import DataDir, write_json, write_table, write_text_atomic
from ssltk.data.dump import write_dump
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.train.expdir import ExpDir
from ssltk.uasr.data import SpeechSet
from ssltk.uasr.text import SIL, read_phone_inventory

POSTERIORS = "posteriors"


def majority_phone(meta: dict) -> str | None:
    """The most frequent non-SIL phone of the unpaired text (first of ``phones.txt``)."""
    inventory = Path(meta["lm"]).parent / "phones.txt"
    phones = read_phone_inventory(inventory) if inventory.is_file() else meta["phones"]
    return next((p for p in phones if p != SIL), None)


def check_features(meta: dict, speech: SpeechSet, exp: Path) -> None:
    """The dump must hold the features the GAN was trained on (``exp.yaml``: features; keys
    it lacks take their defaults, as `ssltk.uasr.upstream` reads them)."""
    trained = meta.get("features") or {}
    theirs = {**FeatureSpec.from_info(trained).to_info(), "dim": int(meta["input_dim"])}
    mine = {**speech.spec.to_info(), "dim": speech.dim}
    diff = [k for k in mine if mine[k] != theirs[k]]
    if diff:
        shown = ", ".join(f"{k}: {mine[k]!r} vs {theirs[k]!r}" for k in diff)
        raise UserError(f"{speech.path} holds other features than {exp} was trained on ({shown})")


def decode(model, speech: SpeechSet, batch_size: int = 64, intervals: dict | None = None,
           posteriors: bool = False) -> dict:
    """``{"hyps", "units", "ctm", "posteriors"}`` of every utterance (see the module doc)."""
    from ssltk.uasr.vad import to_original_time

    step = model.cfg.generator.stride / speech.frame_rate  # seconds per generator frame
    hyps, units, ctm, posts = {}, {}, [], {}
    for batch in speech.eval_batches(batch_size):
        for utt, d in zip(batch["utts"], model.decode(batch["feats"], batch["feat_lens"])):
            hyps[utt] = " ".join(model.hypothesis(d["runs"]))
            units[utt] = " ".join(map(str, d["units"]))
            for phone, first, count in d["runs"]:
                start, end = first * step, (first + count) * step
                if intervals is not None:
                    start = to_original_time(start, intervals[utt])
                    end = to_original_time(end, intervals[utt])
                ctm.append((utt, start, end - start, phone))
            if posteriors:
                posts[utt] = d["logits"].float().softmax(dim=-1).numpy()
    ctm.sort(key=lambda r: (r[0].encode(), r[1]))
    return {"hyps": hyps, "units": units, "ctm": ctm, "posteriors": posts}


def score(speech: SpeechSet, hyps: dict[str, str], majority: str | None) -> dict:
    """PER of ``hyps`` against the references of ``speech``, and the majority baseline."""
    from ssltk.metrics.edit_distance import ErrorCounts, count_errors

    total, baseline = ErrorCounts(), ErrorCounts()
    for utt, ref in zip(speech.utts, speech.refs):
        total += count_errors(ref, hyps[utt].split())
        baseline += count_errors(ref, [majority] * len(ref))
    return {"per": round(100 * total.rate, 2), **total.summary(),
            "majority_phone": majority, "majority_per": round(100 * baseline.rate, 2),
            "utts": len(hyps)}


def infer(exp: str | Path, feats: str | Path, out: str | Path, data: str | Path | None = None,
          checkpoint: str | None = None, posteriors: bool = False,
          batch_size: int = 64) -> dict | None:
    """Decode the dump ``feats`` with the GAN of ``exp`` into ``out``; returns the score
    (None without references in ``data``)."""
    from ssltk.uasr.gan import load_trained

    exp, out = Path(exp), Path(out)
    meta = ExpDir(exp).read_meta("uasr")
    model = load_trained(exp, checkpoint)
    ref_dir = Path(data) if data is not None and (Path(data) / "text.phn").is_file() else None
    speech = SpeechSet(feats, ref_dir=ref_dir)
    check_features(meta, speech, exp)
    intervals = None
    if data is not None and (Path(data) / "vad_intervals").is_file():
        from ssltk.uasr.vad import read_intervals

        intervals = read_intervals(Path(data) / "vad_intervals")
    result = decode(model, speech, batch_size, intervals, posteriors)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "hyp.phn", result["hyps"])
    write_table(out / "units", result["units"])
    write_text_atomic(out / "segments.ctm", "".join(
        f"{u} 1 {s:.3f} {d:.3f} {p}\n" for u, s, d, p in result["ctm"]))
    if posteriors:
        upstream = str(exp) if checkpoint is None else str(ExpDir(exp).weights_path(checkpoint))
        posts = result["posteriors"]
        write_dump(out / POSTERIORS, FeatureSpec(upstream), ((u, posts[u]) for u in speech.utts),
                   frame_rate=speech.frame_rate / model.cfg.generator.stride,
                   source=DataDir(speech.path), utts=speech.utts, phones=model.phones)
    if ref_dir is None:
        return None
    scores = {**score(speech, result["hyps"], majority_phone(meta)),
              "checkpoint": checkpoint or "best (valid/weighted_lm_ppl)"}
    write_json(out / "score.json", scores)
    write_text_atomic(out / "result.txt", json.dumps(scores, indent=1, ensure_ascii=False) + "\n")
    return scores
