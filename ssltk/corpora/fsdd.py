"""Free Spoken Digit Dataset (FSDD) -> Kaldi data dirs.

FSDD (github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0) holds
``recordings/{digit}_{speaker}_{take}.wav``: 6 speakers x 10 digits x 50
takes, mono 8 kHz.  Splits by take: test = takes 0-4 (FSDD's official test
set), dev = takes 5-9, train = takes 10-49.  With a held-out speaker, train
and dev keep that take split over the other speakers and test is every take
of the held-out speaker.

``wav.scp`` points at the 8 kHz originals; readers resample, e.g.
``load_audio(spec, target_rate=16000)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from ssltk.data.datadir import clear_data_dir, utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEST_TAKES = range(0, 5)
DEV_TAKES = range(5, 10)
SPLITS = ("train", "dev", "test")
_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[A-Za-z0-9]+)_(?P<take>[0-9]+)\.wav$")


@dataclass(frozen=True)
class Recording:
    """One FSDD file."""

    digit: int
    speaker: str
    take: int
    path: Path

    @property
    def utt(self) -> str:
        return f"{self.speaker}-{self.digit}-{self.take:02d}"


def scan(fsdd_dir: str | Path) -> list[Recording]:
    """Every recording under ``<fsdd_dir>/recordings``, checking the file names."""
    root = Path(fsdd_dir)
    if not root.is_dir():
        raise UserError(f"{root}: FSDD directory not found (expected the directory "
                        "holding recordings/; set it with --fsdd or the FSDD variable in db.sh)")
    rec_dir = root / "recordings"
    if not rec_dir.is_dir():
        hint = " (it holds .wav files: pass its parent)" if any(root.glob("*.wav")) else ""
        raise UserError(f"{rec_dir}: no recordings/ directory in the FSDD directory{hint}")
    recordings = []
    for path in sorted(rec_dir.iterdir()):
        if path.suffix.lower() != ".wav":
            continue
        m = _NAME.match(path.name)
        if not m:
            raise UserError(f"{path}: malformed FSDD file name "
                            "(expected {digit}_{speaker}_{take}.wav, e.g. 3_theo_12.wav)")
        recordings.append(Recording(int(m["digit"]), m["speaker"], int(m["take"]), path.resolve()))
    if not recordings:
        raise UserError(f"{rec_dir}: no .wav recordings found")
    return recordings


def split_of(rec: Recording, heldout_speaker: str | None = None) -> str:
    """Which split a recording belongs to (see the module doc)."""
    if heldout_speaker is not None and rec.speaker == heldout_speaker:
        return "test"
    if rec.take in TEST_TAKES:
        return "test" if heldout_speaker is None else "excluded"
    return "dev" if rec.take in DEV_TAKES else "train"


def prepare(fsdd_dir: str | Path, out_dir: str | Path,
            heldout_speaker: str | None = None) -> dict[str, int]:
    """Write ``<out_dir>/{train,dev,test}`` and ``<out_dir>/README.md``.

    Returns the number of utterances per split.  Each data dir is validated
    (tables and audio headers) before returning.
    """
    recordings = scan(fsdd_dir)
    speakers = sorted({r.speaker for r in recordings})
    if heldout_speaker is not None and heldout_speaker not in speakers:
        raise UserError(f"unknown held-out speaker '{heldout_speaker}' "
                        f"(FSDD speakers: {', '.join(speakers)})")
    out = Path(out_dir)
    by_split: dict[str, list[Recording]] = {s: [] for s in SPLITS}
    for rec in recordings:
        split = split_of(rec, heldout_speaker)
        if split in by_split:
            by_split[split].append(rec)
    stats = {}
    for split, recs in by_split.items():
        ddir = clear_data_dir(out / split)
        utt2spk = {r.utt: r.speaker for r in recs}
        write_table(ddir / "wav.scp", {r.utt: str(r.path) for r in recs})
        write_table(ddir / "text", {r.utt: DIGIT_WORDS[r.digit] for r in recs})
        write_table(ddir / "utt2category", {r.utt: str(r.digit) for r in recs})
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        problems = validate_data_dir(ddir, audio="header")
        if problems:
            raise UserError(f"{ddir}: invalid data dir: {problems[0]}")
        seconds = sum(sf.info(str(r.path)).duration for r in recs)
        stats[split] = (len(recs), sorted({r.speaker for r in recs}), seconds)
    write_text_atomic(out / "README.md", _readme(Path(fsdd_dir), heldout_speaker, stats))
    return {split: n for split, (n, _, _) in stats.items()}


def _readme(fsdd_dir: Path, heldout: str | None, stats) -> str:
    rows = "\n".join(f"| {split} | {n} | {len(spk)} ({', '.join(spk)}) | {sec / 60:.1f} |"
                     for split, (n, spk, sec) in stats.items())
    if heldout is None:
        split_doc = ("Split by take, over all speakers: **test** = takes 0-4 (FSDD's official "
                     "test set), **dev** = takes 5-9, **train** = takes 10-49.")
    else:
        split_doc = (f"Speaker-held-out variant: **test** = all 50 takes of every digit by "
                     f"`{heldout}`; **train** (takes 10-49) and **dev** (takes 5-9) come from "
                     f"the other speakers; their takes 0-4 are used nowhere.")
    return f"""# FSDD data directories

Prepared by `python -m ssltk.bin.prep_fsdd` (`ssltk.corpora.fsdd.prepare`) from
`{fsdd_dir}`: the Free Spoken Digit Dataset, real recordings of the digits 0-9
read in English.

{split_doc}

| split | utterances | speakers | minutes |
|---|---|---|---|
{rows}

## Files in each data dir

- `wav.scp`: absolute paths to the original **8 kHz** mono 16-bit WAV files.
  Readers resample: `ssltk.data.audio.load_audio(spec, target_rate=16000)`.
- `text`: the digit as a word (`zero` ... `nine`).
- `utt2category`: the digit (`0` ... `9`), for classification recipes.
- `utt2spk`, `spk2utt`: FSDD's speaker names.

Utterance ids are `<speaker>-<digit>-<take, two digits>`, e.g. `theo-3-07`, so
tables sorted by id are grouped by speaker.

## Licence and attribution

The recordings are the Free Spoken Digit Dataset, by the contributors of the
GitHub repository Jakobovski/free-spoken-digit-dataset, licensed under Creative
Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0). These data
directories only point at the original files; keep this attribution wherever
the audio or anything derived from it is shared.
"""
