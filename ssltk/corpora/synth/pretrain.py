"""``pretrain``: unlabelled multi-language, multi-voice speech for SSL pre-training.

Half of the utterances are English (the sentence material of the other kinds:
intent commands, scene captions, everyday sentences, spoken by four English
accents), a fifth is Setswana or Setswana-English code-switching, the rest is
numbers read in fourteen other languages (espeak-ng reads digits as number
words in each language).  Speakers use only the voice variants of the other
kinds' *training* speakers, with wider pitch and rate ranges, so a downstream
test speaker's variant is never heard in pre-training.  The text shares the
downstream corpora's domain (in-domain unlabelled audio), never their audio.
"""

from __future__ import annotations

import numpy as np

from ssltk.corpora.synth import captions, codeswitch_text, intent_text, unpaired
from ssltk.corpora.synth.corpus import Plan, Utt
from ssltk.corpora.synth.render import Segment
from ssltk.corpora.synth.speakers import VARIANTS, Speaker, assign

DEFAULT_NUM_UTTS = 5000
MIN_NUM_UTTS = 10
ENGLISH_ACCENTS = ("en-us", "en", "en-029", "en-gb-scotland")
NUMBER_LANGUAGES = ("af", "es", "de", "fr", "nl", "it", "pt", "sw", "el", "pl", "tr", "id", "hi",
                    "cmn")
MIX = (("en", 0.5), ("tn", 0.2), ("numbers", 0.3))  # share of each material
SPLIT_SHARE = {"dev": 0.02, "test": 0.01}  # the rest is train


def split_sizes(num_utts: int) -> dict[str, int]:
    held = {split: max(1, round(share * num_utts)) for split, share in SPLIT_SHARE.items()}
    return {"train": num_utts - sum(held.values()), **held}


def make_speakers(rng: np.random.Generator, num_utts: int) -> dict[str, list[Speaker]]:
    """About one pseudo-speaker per 25 utterances (6 to 240), all splits drawing from the
    training variants, with pitch 20-80, range 20-90, rate 120-220 and volume 50-80."""
    variants = list(VARIANTS["train"])
    counts = split_sizes(int(np.clip(num_utts // 25, 6, 240)))
    out, number = {}, 0
    for split, count in counts.items():
        out[split] = []
        for _ in range(count):
            number += 1
            variant = variants[int(rng.integers(len(variants)))]
            out[split].append(Speaker(
                f"spk{number:03d}", variant, VARIANTS["train"][variant], int(rng.integers(20, 81)),
                int(rng.integers(20, 91)), int(rng.integers(120, 221)), int(rng.integers(50, 81))))
    return out


def english_sentence(rng: np.random.Generator) -> str:
    """One sentence of the English material of the intent, captions and unpaired kinds."""
    source = int(rng.integers(3))
    if source == 0:
        actions = intent_text.TEMPLATES[str(rng.choice(list(intent_text.TEMPLATES)))]
        templates = actions[str(rng.choice(list(actions)))]
        return intent_text.fill(templates[int(rng.integers(len(templates)))], rng)[0]
    if source == 1:
        scene = captions.make_scenes(rng, 1)[0]
        return captions.caption(captions.TEMPLATES[int(rng.integers(len(captions.TEMPLATES)))], scene)
    return " ".join(str(rng.choice(words)) for words in
                    (unpaired.SUBJECTS, unpaired.VERBS, unpaired.OBJECTS, unpaired.SETTINGS))


def numbers(rng: np.random.Generator) -> str:
    """Two to five numbers of one to four digits, e.g. "17 2049 5"."""
    count = int(rng.integers(2, 6))
    return " ".join(str(int(rng.integers(0, 10 ** int(rng.integers(1, 5))))) for _ in range(count))


def plan(rng: np.random.Generator, num_utts: int) -> Plan:
    speakers = make_speakers(rng, num_utts)
    kinds = [kind for kind, _ in MIX]
    shares = [share for _, share in MIX]
    utts: list[Utt] = []
    for split, size in split_sizes(num_utts).items():
        for spk in assign(rng, speakers[split], size):
            kind = kinds[int(rng.choice(len(kinds), p=shares))]
            if kind == "en":
                lang = ENGLISH_ACCENTS[int(rng.integers(len(ENGLISH_ACCENTS)))]
                text = english_sentence(rng)
                segments = (Segment(text, spk.voice(lang)),)
            elif kind == "tn":
                material = codeswitch_text.KINDS[("cs", "tn")[int(rng.integers(2))]]
                words, tags = codeswitch_text.fill(material[int(rng.integers(len(material)))], rng)
                text, lang = " ".join(words), "tn" if set(tags) == {"tn"} else "tn+en"
                segments = tuple(Segment(chunk, spk.voice(tag))
                                 for tag, chunk in codeswitch_text.spans(words, tags))
            else:
                lang = NUMBER_LANGUAGES[int(rng.integers(len(NUMBER_LANGUAGES)))]
                text = numbers(rng)
                segments = (Segment(text, spk.voice(lang)),)
            utt = f"{spk.id}-{len(utts) + 1:05d}"
            utts.append(Utt(split, utt, spk, segments, text, f"wav/{split}/{utt}.wav",
                            {"utt2lang": lang}))
    counts: dict[str, int] = {}
    for u in utts:
        counts[u.tables["utt2lang"]] = counts.get(u.tables["utt2lang"], 0) + 1
    summary = ", ".join(f"{lang} {n}" for lang, n in sorted(counts.items()))
    return Plan(
        kind="pretrain", utts=utts, speakers=speakers,
        about=f"""Unlabelled speech for self-supervised pre-training: {num_utts} utterances in
{len(counts)} espeak-ng languages ({summary}). English (half): sentences of the intent,
captions and everyday-sentence material of the other kinds, in four accents
({', '.join(ENGLISH_ACCENTS)}); Setswana (a fifth): Setswana sentences and
Setswana-English code-switching (each language run in its own voice); the rest:
two to five numbers of one to four digits read in one of {len(NUMBER_LANGUAGES)} languages
({', '.join(NUMBER_LANGUAGES)}). Pseudo-speakers use the voice variants of the other kinds'
training speakers only (never a variant of their dev or test speakers), with wider pitch
(20-80), pitch range (20-90) and rate (120-220) than the other kinds. The splits share
variants (dev and test here only validate pre-training).""",
        files="""## Pre-training tables

- `utt2lang`: the espeak-ng language of the utterance (`tn+en`: code-switched).
- `text` and `text.phn` are for analysis only (PNMI of k-means units against
  `phones.ctm`); pre-training uses the audio alone.""",
        text_source="the intent, captions, unpaired and codeswitch material of ssltk's other "
                    "kinds, and random numbers.")
