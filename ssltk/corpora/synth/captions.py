"""``captions``: spoken captions of simple scenes, for speech-scene retrieval.

A scene is two objects, each with one attribute (colour or size), and a
place, e.g. ``scene_0007: red ball, small dog, on the grass``.  Each scene
gets at least three captions, each from a different template and a different
speaker.  Splits are by scene: dev and test scenes are unseen in training.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from ssltk.data.datadir import write_text_atomic
from ssltk.corpora.synth.corpus import Plan, Utt
from ssltk.corpora.synth.render import Segment
from ssltk.corpora.synth.speakers import SPLITS, make_speakers, speakers_per_split, split_sizes
from ssltk.errors import UserError

DEFAULT_NUM_UTTS = 1000
MIN_NUM_UTTS = 27  # three scenes per split, three captions each
CAPTIONS_PER_SCENE = 3
LANGUAGE = "en-us"

OBJECTS = ["ball", "dog", "cat", "cup", "chair", "car", "bird", "box", "book", "lamp",
           "bicycle", "kite", "umbrella", "apple", "hat", "boat"]
ATTRIBUTES = ["red", "blue", "green", "yellow", "white", "black", "orange", "small", "big",
              "old"]
PLACES = ["on the grass", "in the kitchen", "on the beach", "in a park", "on a wooden table",
          "by the window", "in the snow", "on the road", "in a garden", "on the floor"]
TEMPLATES = [
    "{a1} {o1} and {a2} {o2} {place}",
    "there is {a2} {o2} next to {a1} {o1} {place}",
    "{place} you can see {a1} {o1} with {a2} {o2}",
    "a picture of {a1} {o1} {place} beside {a2} {o2}",
    "{place} {a2} {o2} is close to {a1} {o1}",
]


def _with_article(attribute: str) -> str:
    return ("an " if attribute[0] in "aeiou" else "a ") + attribute


def caption(template: str, scene: dict) -> str:
    (o1, a1), (o2, a2) = [(o["name"], o["attributes"][0]) for o in scene["objects"]]
    return template.format(a1=_with_article(a1), o1=o1, a2=_with_article(a2), o2=o2,
                           place=scene["place"])


def make_scenes(rng: np.random.Generator, n: int) -> list[dict]:
    """``n`` distinct scenes: two different objects with attributes, and a place."""
    combos = [(o1, o2) for o1, o2 in itertools.combinations(OBJECTS, 2)]
    scenes, seen = [], set()
    while len(scenes) < n:
        o1, o2 = combos[int(rng.integers(len(combos)))]
        if rng.integers(2):
            o1, o2 = o2, o1
        a1, a2 = (ATTRIBUTES[int(i)] for i in rng.integers(len(ATTRIBUTES), size=2))
        place = PLACES[int(rng.integers(len(PLACES)))]
        key = (frozenset([(o1, a1), (o2, a2)]), place)
        if key in seen:
            continue
        seen.add(key)
        scenes.append({"objects": [{"name": o1, "attributes": [a1]},
                                   {"name": o2, "attributes": [a2]}],
                       "place": place,
                       "description": f"{a1} {o1}, {a2} {o2}, {place}"})
    return scenes


def plan(rng: np.random.Generator, num_utts: int) -> Plan:
    sizes = split_sizes(num_utts)
    if min(sizes.values()) < CAPTIONS_PER_SCENE:
        raise UserError(f"captions corpus: need at least {MIN_NUM_UTTS} utterances")
    speakers = make_speakers(rng, speakers_per_split(num_utts))
    scene_counts = {split: size // CAPTIONS_PER_SCENE for split, size in sizes.items()}
    scenes = make_scenes(rng, sum(scene_counts.values()))
    ids = [f"scene_{i:04d}" for i in range(len(scenes))]
    utts: list[Utt] = []
    first = 0
    for split in SPLITS:
        n_scenes = scene_counts[split]
        # spread the split's captions over its scenes: 3 each, the remainder one more
        extra = sizes[split] - n_scenes * CAPTIONS_PER_SCENE
        for k in range(n_scenes):
            sid, scene = ids[first + k], scenes[first + k]
            count = min(CAPTIONS_PER_SCENE + (1 if k < extra else 0), len(TEMPLATES))
            templates = rng.choice(len(TEMPLATES), size=count, replace=False)
            pool = speakers[split]
            readers = rng.choice(len(pool), size=count, replace=len(pool) < count)
            for t, r in zip(templates, readers):
                spk = pool[int(r)]
                text = caption(TEMPLATES[int(t)], scene)
                utt = f"{spk.id}-{sid}-{int(t)}"
                utts.append(Utt(split, utt, spk, (Segment(text, spk.voice(LANGUAGE)),), text,
                                f"wav/{split}/{utt}.wav", {"utt2scene": sid}))
        first += n_scenes

    def finish(work: Path, root: Path, results, text_only) -> None:
        split_of = {u.tables["utt2scene"]: u.split for u in utts}
        table = {sid: {**scene, "split": split_of[sid]} for sid, scene in zip(ids, scenes)}
        write_text_atomic(work / "scenes.json", json.dumps(table, indent=1) + "\n")

    return Plan(
        kind="captions", utts=utts, speakers=speakers,
        about=f"""Spoken captions of {len(scenes)} simple scenes (two objects with a colour or
size, and a place), for speech-scene retrieval and CLIP-style contrastive training. Each
scene has {CAPTIONS_PER_SCENE} or more captions, each from a different template and
a different reader where the split has enough speakers (American English voice
`{LANGUAGE}`). Splits are by scene: dev and test scenes never occur in train.""",
        files="""## Scenes

- `scenes.json`: scene id -> `objects` (`name`, `attributes`), `place`, a one-line
  `description` (e.g. `red ball, small dog, on the grass`) and its `split`.
- data dirs: `utt2scene` (the scene a caption describes). Utterance ids are
  `<speaker>-<scene id>-<template number>`.""",
        text_source="object, attribute and place lists and caption templates written for "
                    "ssltk.",
        finish=finish)
