"""Text material for the Setswana-English code-switching corpus (written for ssltk).

Setswana frames are everyday phrases in the standard (Botswana) orthography:
greetings, days, family, food, places and common verbs.  The English
insertions are the nouns and adjectives that speakers in Botswana and South
Africa typically switch to: technology, school and work words.

Templates are lists of tokens.  A plain token is a Setswana word; ``@word``
is an English word; ``{slot}`` draws from `SLOTS` (whose entries carry their
own language tags, ``@`` marking English words).
"""

from __future__ import annotations

import numpy as np

SLOTS: dict[str, list[str]] = {
    # Setswana
    "tn_place": ["sekolong", "tirong", "toropong", "lebenkeleng", "kerekeng", "masimong",
                 "motseng"],  # locative forms: at/to school, work, town, the shop ...
    "tn_time": ["gompieno", "kamoso", "bosigo", "phakela", "ka mosupologo", "ka labobedi",
                "ka labotlhano", "ka lamatlhatso", "ka tshipi"],
    "tn_day": ["mosupologo", "labobedi", "laboraro", "labone", "labotlhano", "lamatlhatso",
               "tshipi"],
    "tn_food": ["dijo", "metsi", "nama", "bogobe", "borotho", "mashi", "tee", "merogo",
                "seswaa", "dinawa", "motogo"],
    "tn_person": ["mme", "rre", "nkuku", "ntatemogolo", "ngwana wa me", "tsala ya me",
                  "mosadi wa me", "monna wa me", "kgaitsadi"],  # take subject concord "o"
    "tn_greeting": ["dumela rra", "dumela mma", "dumelang bagaetsho", "o tsogile jang",
                    "ke tsogile sentle", "ke a leboga", "ke a leboga thata", "tsamaya sentle",
                    "sala sentle", "robala sentle", "go siame", "o kae mma", "ke teng rra"],
    # English insertions, bare nouns and adjectives (Setswana has no articles)
    "en_tech": ["@phone", "@laptop", "@computer", "@printer", "@charger", "@tablet", "@router"],
    "en_data": ["@data", "@airtime", "@wifi", "@internet", "@network", "@battery"],
    "en_doc": ["@email", "@message", "@report", "@invoice", "@document", "@form"],
    "en_event": ["@meeting", "@test", "@exam", "@interview", "@lecture", "@workshop",
                 "@presentation"],
    "en_task": ["@assignment", "@homework", "@project", "@report", "@application"],
    "en_place": ["@school", "@office", "@bank", "@clinic", "@mall", "@university", "@library"],
    "en_role": ["@manager", "@teacher", "@doctor", "@lecturer", "@supervisor", "@boss"],
    "en_adj": ["@busy", "@tired", "@late", "@stressed", "@excited"],
    "en_transport": ["@bus", "@taxi", "@combi", "@train"],
    "en_want": ["@job", "@laptop", "@car", "@loan", "@bursary", "@phone"],
    # English, for monolingual English sentences
    "en_time": ["@today", "@tomorrow", "@tonight", "@on @monday", "@on @friday",
                "@on @sunday", "@this @weekend"],
    "en_food": ["@water", "@tea", "@bread", "@milk", "@porridge", "@meat"],
}

# Setswana frames with English insertions (intra-sentential switching).
CODESWITCH = [
    "ke batla go reka {en_tech}",  # I want to buy a ...
    "{en_tech} ya me e robegile",  # my ... is broken
    "{en_tech} ga e bereke",  # the ... does not work
    "ga ke na {en_data}",  # I have no ...
    "ke na le {en_event} {tn_time}",  # I have a ... (day)
    "re na le {en_event} {tn_time}",  # we have a ...
    "ke ya kwa {en_place} {tn_time}",  # I am going to the ...
    "maabane ke ne ke le kwa {en_place}",  # yesterday I was at the ...
    "{tn_person} o bereka kwa {en_place}",  # ... works at the ...
    "ke kopa o romele {en_doc} {tn_time}",  # please send the ... (day)
    "ke tla go romela {en_doc} {tn_time}",  # I will send you the ...
    "ke tshwanetse go fetsa {en_task} {tn_time}",  # I must finish the ...
    "gompieno ke {en_adj} thata",  # today I am very ...
    "ke batla go bua le {en_role}",  # I want to speak with the ...
    "bana ba ya kwa {en_place} ka {en_transport}",  # the children go to ... by ...
    "{tn_person} o batla {en_want}",  # ... wants a ...
    "ke ya {tn_place} ka {en_transport} {tn_time}",  # I go to ... by ...
    "dumela rra ke kopa {en_data}",  # hello sir, may I have ...
]

# Setswana only.
SETSWANA = [
    "{tn_greeting}",
    "ke batla {tn_food}",  # I want ...
    "ke kopa {tn_food}",  # may I have ...
    "ke rata {tn_food} thata",  # I like ... very much
    "ke ya kwa {tn_place} {tn_time}",  # I am going to ...
    "{tn_person} o ya kwa {tn_place} {tn_time}",  # ... is going to ...
    "maabane ke ne ke le kwa {tn_place}",  # yesterday I was at ...
    "gompieno ke {tn_day}",  # today is ...
    "kamoso ke {tn_day}",  # tomorrow is ...
    "ke tla go leletsa {tn_time}",  # I will call you ...
    "{tn_person} o a lwala",  # ... is ill
    "re ja {tn_food} {tn_time}",  # we eat ...
]

# English only (the same everyday domain).
ENGLISH = [
    "@i @want @to @buy @a {en_tech}",
    "@my {en_tech} @is @broken",
    "@the {en_tech} @is @not @working",
    "@i @have @no {en_data}",
    "@i @have @a {en_event} {en_time}",
    "@i @am @going @to @the {en_place} {en_time}",
    "@please @send @the {en_doc} {en_time}",
    "@i @must @finish @the {en_task} {en_time}",
    "@i @am @very {en_adj} @today",
    "@i @want @to @speak @to @the {en_role}",
    "@the @children @go @to @school @by {en_transport}",
    "@may @i @have @some {en_food}",
]

KINDS = {"cs": CODESWITCH, "tn": SETSWANA, "en": ENGLISH}
MIX = (("cs", 0.6), ("tn", 0.2), ("en", 0.2))  # share of each utterance language


def fill(template: str, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Fill a template: (words, language tag of each word: ``tn`` or ``en``)."""
    words: list[str] = []
    for token in template.split():
        if token.startswith("{"):
            choices = SLOTS[token.strip("{}")]
            words.extend(choices[int(rng.integers(len(choices)))].split())
        else:
            words.append(token)
    tags = ["en" if w.startswith("@") else "tn" for w in words]
    return [w.lstrip("@") for w in words], tags


def spans(words: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """Maximal runs of one language: [(tag, "word word ..."), ...]."""
    out: list[tuple[str, list[str]]] = []
    for word, tag in zip(words, tags):
        if out and out[-1][0] == tag:
            out[-1][1].append(word)
        else:
            out.append((tag, [word]))
    return [(tag, " ".join(ws)) for tag, ws in out]
