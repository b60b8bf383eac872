"""``unpaired``: speech and text from disjoint sentence pools, for unsupervised ASR.

One grammar of everyday English sentences is enumerated and shuffled; the
first part becomes speech (data dirs with ``text`` and ``text.phn``, the
phones only for evaluation), the next part text only (``text_only/``): no
sentence is in both.  Both sides are phonemised from espeak-ng's phoneme
events for the same language (``en-us``), so their phone sets agree.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from ssltk.data.datadir import write_text_atomic
from ssltk.corpora.synth.corpus import Plan, Utt, phone_string
from ssltk.corpora.synth.espeak import Voice
from ssltk.corpora.synth.render import Job, Segment
from ssltk.corpora.synth.speakers import assign, make_speakers, speakers_per_split, split_sizes
from ssltk.errors import UserError

DEFAULT_NUM_UTTS = 1000
MIN_NUM_UTTS = 10
LANGUAGE = "en-us"

SUBJECTS = ["my sister", "the old man", "a young girl", "the teacher", "our neighbour",
            "the children", "my friend", "the farmer", "a tall woman", "the driver"]
VERBS = ["cleaned", "painted", "found", "carried", "washed", "bought", "sold", "opened",
         "fixed", "dropped", "moved", "lost"]
OBJECTS = ["the red chair", "a small box", "the old bicycle", "the blue door", "a wooden table",
           "the broken window", "a heavy bag", "the green kettle", "a new lamp", "the yellow car"]
SETTINGS = ["in the kitchen", "near the river", "after dinner", "before school",
            "behind the house", "on monday", "at the market", "in the garden", "last night",
            "this morning"]
INTRANSITIVE = ["slept", "waited", "sang", "laughed", "worked", "cooked", "danced", "rested"]


def sentence_pool() -> list[str]:
    """Every sentence of the grammar, in a fixed order."""
    return list(scene_table())


def scene_table() -> dict[str, str]:
    """Sentence -> scene id, in the pool's order.  A scene is the sentence's slots:
    ``s<subject>_v<verb>_o<object>_p<setting>``, or ``s<subject>_i<verb>_p<setting>``
    for intransitive verbs (indices into the word lists, two digits)."""
    table = {}
    for (i, s), (j, v), (k, o), (m, p) in itertools.product(
            enumerate(SUBJECTS), enumerate(VERBS), enumerate(OBJECTS), enumerate(SETTINGS)):
        table[f"{s} {v} {o} {p}"] = f"s{i:02d}_v{j:02d}_o{k:02d}_p{m:02d}"
    for (i, s), (j, v), (m, p) in itertools.product(
            enumerate(SUBJECTS), enumerate(INTRANSITIVE), enumerate(SETTINGS)):
        table[f"{s} {v} {p}"] = f"s{i:02d}_i{j:02d}_p{m:02d}"
    return table


def scene_slots(scene: str) -> dict[str, str]:
    """The words of a scene id's slots: subject, verb, object (or ""), setting."""
    parts = {part[0]: int(part[1:]) for part in scene.split("_")}
    verb = VERBS[parts["v"]] if "v" in parts else INTRANSITIVE[parts["i"]]
    return {"subject": SUBJECTS[parts["s"]], "verb": verb,
            "object": OBJECTS[parts["o"]] if "o" in parts else "", "setting": SETTINGS[parts["p"]]}


def plan(rng: np.random.Generator, num_utts: int, num_text: int | None = None) -> Plan:
    num_text = num_utts if num_text is None else int(num_text)
    scenes = scene_table()
    pool = list(scenes)
    if num_utts + num_text > len(pool):
        raise UserError(f"unpaired corpus: {num_utts} spoken + {num_text} text-only sentences "
                        f"exceed the {len(pool)} sentences of the grammar")
    if num_text < 1:
        raise UserError(f"num_text must be >= 1, got {num_text}")
    order = rng.permutation(len(pool))
    spoken = [pool[i] for i in order[:num_utts]]
    text_only = [pool[i] for i in order[num_utts:num_utts + num_text]]
    speakers = make_speakers(rng, speakers_per_split(num_utts))
    utts: list[Utt] = []
    sentences = iter(spoken)
    for split, size in split_sizes(num_utts).items():
        for spk in assign(rng, speakers[split], size):
            text = next(sentences)
            utt = f"{spk.id}-{len(utts) + 1:05d}"
            utts.append(Utt(split, utt, spk, (Segment(text, spk.voice(LANGUAGE)),), text,
                            f"wav/{split}/{utt}.wav", {"utt2scene": scenes[text]}))
    neutral = Voice(LANGUAGE)
    phonemize = [Job(f"text{i:06d}", (Segment(s, neutral),), seed=0)
                 for i, s in enumerate(text_only)]

    def finish(work: Path, root: Path, results, text_results) -> None:
        write_text_atomic(work / "text_only" / "text.txt", "".join(s + "\n" for s in text_only))
        write_text_atomic(work / "text_only" / "text.scene",
                          "".join(scenes[s] + "\n" for s in text_only))
        used = sorted({scenes[s] for s in spoken + text_only})
        write_text_atomic(work / "scenes.json", json.dumps(
            {sid: scene_slots(sid) for sid in used}, indent=1) + "\n")
        write_text_atomic(work / "text_only" / "text.phn",
                          "".join(phone_string(r.words) + "\n" for r in text_results))
        lexicon: set[tuple[str, str]] = set()
        pairs = [(u.text, results[u.utt].words) for u in utts]
        pairs += [(s, r.words) for s, r in zip(text_only, text_results)]
        for text, words in pairs:
            tokens = text.split()
            if len(words) != len(tokens):
                continue
            for i, (token, phones) in enumerate(zip(tokens, words)):
                # espeak speaks some pairs ("in the") as one word: the first gets
                # both words' phones, the second none; neither goes in the lexicon
                joined = i + 1 < len(words) and not words[i + 1]
                if phones and not joined:
                    lexicon.add((token, " ".join(phones)))
        write_text_atomic(work / "lexicon.txt",
                          "".join(f"{w} {p}\n" for w, p in sorted(lexicon)))

    return Plan(
        kind="unpaired", utts=utts, speakers=speakers, phonemize=phonemize,
        about=f"""For unsupervised ASR (wav2vec-U style): {len(pool)} English sentences of one
grammar (subject, verb, object, place or time: an everyday-life domain) are shuffled; the
first {num_utts} are spoken (data dirs), the next {num_text} are text only
(`text_only/`). The two pools share the domain and the vocabulary but no sentence.
Speech uses the American English voice `{LANGUAGE}`.""",
        files=f"""## Unpaired text and phones

- `text_only/text.txt`: the text-only sentences, one per line.
- `text_only/text.phn`: their phones, line by line, in the same format as the data
  dirs' `text.phn` (IPA without stress marks, words separated by `|`), from espeak-ng's
  phoneme events for the neutral `{LANGUAGE}` voice (no audio kept).
- Speech side: the data dirs' `text.phn` are for evaluation only (phone error rate);
  an unsupervised recipe must not train on them.
- `lexicon.txt`: `word phone phone ...` for every pronunciation espeak used on either
  side (a word may have several).
- Scenes (the "images" of a CLIP-style loss): every sentence describes one scene, its
  slots (subject, verb, object, setting); ids `s<subject>_v<verb>_o<object>_p<setting>`
  (`s.._i<verb>_p..` for intransitive verbs). Data dirs have `utt2scene`,
  `text_only/text.scene` is line-aligned with `text.txt`, `scenes.json` maps the ids
  used to their slot words.""",
        text_source="a sentence grammar and word lists written for ssltk.",
        finish=finish)
