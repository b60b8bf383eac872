"""``intent``: SLURP-like spoken commands, in SLURP's own layout.

Sentences come from templates with slot fillers (`intent_text`), one
intent each (``scenario_action``).  Each sentence is read by one or two
pseudo-speakers of its split.  Written twice over the same audio:

- ``data/{train,dev,test}``: Kaldi data dirs with ``utt2intent``,
  ``utt2scenario``, ``utt2action``, ``text.annot``;
- ``dataset/slurp/{train,devel,test}.jsonl`` + ``metadata.json`` and
  ``audio/slurp_real/audio-*.wav``: SLURP's release layout, which
  `ssltk.corpora.slurp.prepare` reads exactly like the real corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ssltk.corpora import slurp
from ssltk.data.datadir import write_text_atomic
from ssltk.corpora.synth import intent_text
from ssltk.corpora.synth.corpus import Plan, Utt
from ssltk.corpora.synth.render import Segment
from ssltk.corpora.synth.speakers import SPLITS, make_speakers, speakers_per_split, split_sizes
from ssltk.errors import UserError

DEFAULT_NUM_UTTS = 1000
MIN_NUM_UTTS = 10
LANGUAGE = "en-us"
SLURP_SPLIT = {"train": "train", "dev": "devel", "test": "test"}


def _record(slurp_id: int, sentence: str, annotation: str, scenario: str, action: str,
            entities, files: list[str]) -> dict:
    """A JSONL record with SLURP's fields, in SLURP's key order."""
    return {
        "slurp_id": slurp_id,
        "sentence": sentence,
        "sentence_annotation": annotation,
        "intent": f"{scenario}_{action}",
        "action": action,
        # no part-of-speech tagger here: lemma is the surface form, no "pos"
        "tokens": [{"surface": w, "id": i, "lemma": w} for i, w in enumerate(sentence.split())],
        "scenario": scenario,
        "recordings": [{"file": f, "wer": 0.0, "ent_wer": 0.0, "status": "correct"}
                       for f in files],
        "entities": [{"span": span, "type": kind} for span, kind in entities],
    }


def plan(rng: np.random.Generator, num_utts: int) -> Plan:
    speakers = make_speakers(rng, speakers_per_split(num_utts))
    intents = intent_text.intents()
    seen: set[str] = set()
    utts: list[Utt] = []
    records: dict[str, list[dict]] = {s: [] for s in SPLITS}
    metadata: dict[str, dict] = {}
    slurp_id = 0
    for split, size in split_sizes(num_utts).items():
        pool = speakers[split]
        made = 0
        while made < size:
            for _ in range(1000):
                scenario, action = intents[int(rng.integers(len(intents)))]
                templates = intent_text.TEMPLATES[scenario][action]
                sentence, annotation, entities = intent_text.fill(
                    templates[int(rng.integers(len(templates)))], rng)
                if sentence not in seen:
                    break
            else:
                raise UserError(f"intent corpus: the templates ran out of new sentences; "
                                f"use fewer than {num_utts} utterances")
            seen.add(sentence)
            slurp_id += 1
            readers = min(size - made, 1 + int(rng.integers(2)), len(pool))
            chosen = [pool[i] for i in rng.choice(len(pool), size=readers, replace=False)]
            files = [f"audio-{slurp_id:05d}-{k + 1}.wav" for k in range(readers)]
            for spk, file in zip(chosen, files):
                utts.append(Utt(split, slurp.utt_id(spk.id, file), spk,
                                (Segment(sentence, spk.voice(LANGUAGE)),), sentence,
                                f"audio/slurp_real/{file}",
                                {"utt2intent": f"{scenario}_{action}", "utt2scenario": scenario,
                                 "utt2action": action, "text.annot": annotation}))
            records[split].append(_record(slurp_id, sentence, annotation, scenario, action,
                                          entities, files))
            metadata[str(slurp_id)] = {
                "recordings": {f: {"usrid": s.id, "status": "correct"}
                               for f, s in zip(files, chosen)},
                "sentence_normalised": sentence, "sentence_original": sentence,
                "status": "correct"}
            made += readers

    def finish(work: Path, root: Path, results, text_only) -> None:
        ddir = work / "dataset" / "slurp"
        for split, name in SLURP_SPLIT.items():
            write_text_atomic(ddir / f"{name}.jsonl",
                              "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                      for r in records[split]))
        write_text_atomic(ddir / "metadata.json", json.dumps(metadata, indent=1) + "\n")

    num_sentences = slurp_id
    scenarios = ", ".join(intent_text.TEMPLATES)
    return Plan(
        kind="intent", utts=utts, speakers=speakers,
        about=f"""SLURP-like voice-assistant commands: {num_sentences} distinct sentences over
{len(intents)} intents in {len(intent_text.TEMPLATES)} scenarios ({scenarios}), each
with 3-5 actions; label names follow SLURP (`intent` = `scenario_action`). Sentences are
templates with slot fillers; each is read by one or two pseudo-speakers of its split
(American English voice `{LANGUAGE}`). Dev and test sentences do not occur in train.""",
        files="""## SLURP layout

The same audio is also described in SLURP's release layout, so the SLURP data
preparation (`python -m ssltk.bin.prep_slurp --slurp <this dir> --out data`, i.e.
`ssltk.corpora.slurp.prepare`) reads this corpus exactly as it reads the real one:

- `dataset/slurp/{train,devel,test}.jsonl`: one sentence per line with SLURP's fields
  (`slurp_id`, `sentence`, `sentence_annotation` with slots as `[type : filler]`,
  `intent`, `action`, `scenario`, `tokens` (surface, id, lemma = surface; no POS tags),
  `recordings` (`file`, `wer`, `ent_wer`, `status`), `entities` (token spans)).
- `dataset/slurp/metadata.json`: the speaker (`usrid`) of each recording.
- `audio/slurp_real/audio-<slurp id>-<reading>.wav`: the audio (WAV here, FLAC in SLURP).

The data dirs also hold `utt2intent`, `utt2scenario`, `utt2action` and `text.annot`
(the slot annotation); their utterance ids (`<speaker>-<slurp id>-<reading>`) are the ones
the SLURP preparation gives.""",
        text_source="templates and fillers written for ssltk (everyday voice-assistant "
                    "requests; scenario, action and slot names follow SLURP's label set).",
        finish=finish)
