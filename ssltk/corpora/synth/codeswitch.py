"""``codeswitch``: Setswana-English intra-sentential code-switching speech.

Each utterance is code-switched (Setswana frame, English insertions),
Setswana only, or English only (60/20/20).  Every run of one language is
spoken with that language's espeak voice (``tn`` or ``en``) by the same
pseudo-speaker, and the runs are joined with 50-150 ms pauses.
"""

from __future__ import annotations

import numpy as np

from ssltk.corpora.synth import codeswitch_text as material
from ssltk.corpora.synth.corpus import Plan, Utt
from ssltk.corpora.synth.render import Segment
from ssltk.corpora.synth.speakers import assign, make_speakers, speakers_per_split, split_sizes

DEFAULT_NUM_UTTS = 1000
MIN_NUM_UTTS = 10
VOICES = {"tn": "tn", "en": "en"}  # language tag -> espeak language


def plan(rng: np.random.Generator, num_utts: int) -> Plan:
    speakers = make_speakers(rng, speakers_per_split(num_utts))
    langs = [lang for lang, _ in material.MIX]
    shares = [share for _, share in material.MIX]
    utts: list[Utt] = []
    seen: set[str] = set()
    for split, size in split_sizes(num_utts).items():
        for spk in assign(rng, speakers[split], size):
            lang = langs[int(rng.choice(len(langs), p=shares))]
            templates = material.KINDS[lang]
            for _ in range(20):  # prefer sentences not used yet
                words, tags = material.fill(templates[int(rng.integers(len(templates)))], rng)
                if " ".join(words) not in seen:
                    break
            text = " ".join(words)
            seen.add(text)
            utt = f"{spk.id}-{len(utts) + 1:05d}"
            segments = tuple(Segment(chunk, spk.voice(VOICES[tag]))
                             for tag, chunk in material.spans(words, tags))
            utts.append(Utt(split, utt, spk, segments, text, f"wav/{split}/{utt}.wav",
                            {"utt2lang": lang, "text.lang": " ".join(tags)}))
    counts = {lang: sum(u.tables["utt2lang"] == lang for u in utts) for lang in langs}
    return Plan(
        kind="codeswitch", utts=utts, speakers=speakers,
        about=f"""Setswana-English code-switching: {counts['cs']} code-switched utterances
(Setswana sentence frames with English insertions), {counts['tn']} Setswana-only and
{counts['en']} English-only ones. Each maximal run of one language is synthesised with that
language's espeak-ng voice (`tn` for Setswana, `en` (British English) for English: espeak
has no South African English) by the same pseudo-speaker (same variant and prosody),
and the runs are joined at the switch points with a pause of 50-150 ms (seeded).
Sentences are lower-case, without punctuation.

espeak-ng's Setswana is basic: its phoneme file turns an unstressed `e` into [l]
(`ChangeIfUnstressed(l)` in `phsource/ph_setswana`), so words such as *sentle* or *mme*
are spoken with an [l]; and its lateral affricate *tlh* has no IPA name (label `K`).
Phone labels and alignments follow what is spoken, not the dictionary form.""",
        files="""## Code-switching tables

- `utt2lang`: `cs` (code-switched), `tn` (Setswana only) or `en` (English only).
- `text.lang`: one language tag per word of `text` (`tn` or `en`), in the same order:
  word *i* of `text.lang` tags word *i* of `text`.
- `text.phn` phones come from the voice of each word's language.""",
        text_source="Setswana sentence frames, word lists and English insertions written "
                    "for ssltk from common everyday vocabulary (greetings, days of the week, "
                    "family, food, places, frequent verbs; technology, school and work words "
                    "for the English insertions), in the standard Botswana orthography.")
