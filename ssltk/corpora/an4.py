"""CMU AN4 (census database, close-talking microphone) -> Kaldi data dirs.

AN4 (Acero 1993; CMU's BSD-style licence) holds ``wav/an4_clstk/<spk>/<name>.<ext>``
(948 training utterances, 74 speakers) and ``wav/an4test_clstk/<spk>/`` (130 test
utterances, 10 other speakers), 16 kHz, with word transcripts in
``etc/an4_{train,test}.transcription`` (``[<s>] WORDS [</s>] (<name>)``).  The audio may
be the original ``.sph``/``.wav`` or FLAC: the first of ``.flac``, ``.wav``, ``.sph`` found.

As in ESPnet's AN4 recipe: utterance ids ``<spk>-<prefix>-<suffix>`` (sorted by speaker),
transcripts are the upper-case words without ``<s>``/``</s>``, and the dev set is taken from
the start of the sorted training list.  Unlike it, the dev set holds whole speakers: the
first speakers in sorted order until at least ``dev_utts`` (100) utterances, so no dev
speaker is in ``train_nodev``.  Splits: ``train_nodev``, ``train_dev``, ``test``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ssltk.data.datadir import clear_data_dir, utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

PARTS = {"train": "an4_clstk", "test": "an4test_clstk"}
AUDIO_SUFFIXES = (".flac", ".wav", ".sph")
_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<name>[^()\s]+)\)\s*$")
_NAME = re.compile(r"^(?P<pre>[^-]+)-(?P<spk>[^-]+)-(?P<last>[^-]+)$")


@dataclass(frozen=True)
class Utterance:
    utt: str
    speaker: str
    words: str
    path: Path


def read_part(root: Path, part: str) -> list[Utterance]:
    """The utterances of ``part`` (train / test), sorted by id; errors name the file and line."""
    trans = root / "etc" / f"an4_{part}.transcription"
    if not trans.is_file():
        raise UserError(f"{trans}: no such file (is {root} the AN4 directory, holding etc/ and wav/?)")
    out = []
    for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        n = _NAME.match(m["name"]) if m else None
        if not (m and n):
            raise UserError(f"{trans}:{lineno}: expected 'WORDS (prefix-speaker-suffix)', got {line!r}")
        words = m["words"].split()
        words = [w for w in words if w not in ("<s>", "</s>")]
        folder = root / "wav" / PARTS[part] / n["spk"]
        path = next((folder / (m["name"] + s) for s in AUDIO_SUFFIXES
                     if (folder / (m["name"] + s)).is_file()), None)
        if path is None:
            raise UserError(f"{trans}:{lineno}: no audio for {m['name']} in {folder} "
                            f"({', '.join(AUDIO_SUFFIXES)})")
        out.append(Utterance(f"{n['spk']}-{n['pre']}-{n['last']}", n["spk"], " ".join(words).upper(),
                             path.resolve()))
    if not out:
        raise UserError(f"{trans}: no utterances")
    return sorted(out, key=lambda u: u.utt)


def split_dev(train: list[Utterance], dev_utts: int) -> tuple[list[Utterance], list[Utterance]]:
    """``(train_nodev, train_dev)``: whole speakers, in sorted order, until ``dev_utts``."""
    dev_speakers: set[str] = set()
    count = 0
    for u in train:
        if count >= dev_utts and u.speaker not in dev_speakers:
            break
        dev_speakers.add(u.speaker)
        count += 1
    return ([u for u in train if u.speaker not in dev_speakers],
            [u for u in train if u.speaker in dev_speakers])


def prepare(an4_dir: str | Path, out_dir: str | Path, dev_utts: int = 100) -> dict[str, int]:
    """Write ``<out_dir>/{train_nodev,train_dev,test}`` (validated) and ``README.md``;
    returns the utterances per split."""
    root = Path(an4_dir)
    if not root.is_dir():
        raise UserError(f"{root}: AN4 directory not found (expected the directory holding etc/ "
                        "and wav/; set it with --an4 or the AN4 variable in db.sh)")
    train_nodev, train_dev = split_dev(read_part(root, "train"), dev_utts)
    splits = {"train_nodev": train_nodev, "train_dev": train_dev, "test": read_part(root, "test")}
    out = Path(out_dir)
    for name, utts in splits.items():
        ddir = clear_data_dir(out / name)
        utt2spk = {u.utt: u.speaker for u in utts}
        write_table(ddir / "wav.scp", {u.utt: str(u.path) for u in utts})
        write_table(ddir / "text", {u.utt: u.words for u in utts})
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        problems = validate_data_dir(ddir, audio="header")
        if problems:
            raise UserError(f"{ddir}: invalid data dir: {problems[0]}")
    rows = "\n".join(f"| {name} | {len(utts)} | {len({u.speaker for u in utts})} |"
                     for name, utts in splits.items())
    write_text_atomic(out / "README.md", (
        f"# AN4 data dirs\n\nMade by `python -m ssltk.bin.prep_an4` from {root} (CMU AN4, "
        "close-talking microphone; CMU's licence). Dev: the first whole speakers of the sorted "
        f"training list, at least {dev_utts} utterances.\n\n| split | utterances | speakers |\n"
        f"|---|---|---|\n{rows}\n"))
    return {name: len(utts) for name, utts in splits.items()}
