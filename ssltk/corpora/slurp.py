"""SLURP data preparation: SLURP's JSONL + audio layout -> Kaldi data dirs.

The layout, as released (github.com/pswietojanski/slurp, audio from Zenodo)::

    <root>/dataset/slurp/{train,devel,test}.jsonl   one sentence per line
    <root>/dataset/slurp/metadata.json              optional: speaker ("usrid") per recording
    <root>/audio/slurp_real/audio-<id>[-headset].flac

Each JSONL record has ``slurp_id``, ``sentence``, ``sentence_annotation``
(slots written ``[type : filler]``), ``intent`` (``scenario_action``),
``scenario``, ``action``, ``tokens``, ``entities`` and ``recordings``: a list of
``{"file", "wer", "ent_wer", "status"}``, one per reading of the sentence.
Files ending ``-headset`` are close-talk, the others far-field.  The same
loader reads ssltk's synthetic intent corpus (``synth_corpus --kind intent``),
which uses this layout with WAV files.

Output: ``<out>/{train,dev,test}`` (SLURP's ``devel`` becomes ``dev``) with
``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2intent``,
``utt2scenario``, ``utt2action`` and ``text.annot`` (the slot annotation).
Utterance ids are ``<speaker>-<recording>`` where ``<recording>`` is the file
name without ``audio-`` and the extension; without metadata each recording
is its own speaker (id ``<recording>``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ssltk.data.datadir import clear_data_dir, utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

SPLITS = {"train": "train", "devel": "dev", "test": "test"}  # SLURP file -> data dir
MICS = ("all", "headset", "far")
AUDIO_EXTENSIONS = (".flac", ".wav")


@dataclass(frozen=True)
class SlurpUtt:
    """One recording of one SLURP sentence."""

    utt: str
    speaker: str
    path: Path
    text: str
    annotation: str
    scenario: str
    action: str
    intent: str


def recording_id(file: str) -> str:
    """``audio-1502099775-headset.flac`` -> ``1502099775-headset``."""
    stem = file
    for ext in AUDIO_EXTENSIONS:
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return stem[len("audio-"):] if stem.startswith("audio-") else stem


def utt_id(speaker: str | None, file: str) -> str:
    """Utterance id of a recording: speaker-prefixed so tables sort by speaker."""
    rec = recording_id(file)
    return f"{speaker}-{rec}" if speaker else rec


def normalise(sentence: str) -> str:
    """SLURP sentence -> transcript: no commas/periods, ``@``/``#`` spelt out, one space."""
    text = sentence.replace("@", " at ").replace("#", " hashtag ")
    text = text.replace(",", " ").replace(".", " ")
    return re.sub(r"\s+", " ", text).strip()


def _speakers(root: Path) -> dict[str, str]:
    path = root / "dataset" / "slurp" / "metadata.json"
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    speakers = {}
    for sid, record in records.items():
        for file, info in (record.get("recordings") or {}).items():
            if "usrid" in info:
                speakers[file] = re.sub(r"\s+", "_", str(info["usrid"]))
    return speakers


def read_split(root: str | Path, split: str, mic: str = "all",
               speakers: dict[str, str] | None = None) -> list[SlurpUtt]:
    """The recordings of one SLURP split file (``train``, ``devel`` or ``test``)."""
    root = Path(root)
    if mic not in MICS:
        raise UserError(f"unknown microphone selection '{mic}' (choose from {', '.join(MICS)})")
    path = root / "dataset" / "slurp" / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: no such file (is {root} a SLURP root with dataset/slurp/?)")
    audio_dir = root / "audio" / "slurp_real"
    speakers = _speakers(root) if speakers is None else speakers
    utts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{where}: not valid JSON ({e})") from None
            missing = [k for k in ("slurp_id", "sentence", "scenario", "action", "recordings")
                       if k not in record]
            if missing:
                raise UserError(f"{where}: record lacks {', '.join(missing)}")
            scenario, action = record["scenario"], record["action"]
            intent = record.get("intent") or f"{scenario}_{action}"
            text = normalise(record["sentence"])
            if not text:
                raise UserError(f"{where}: empty sentence (slurp_id {record['slurp_id']})")
            annotation = normalise(record.get("sentence_annotation") or record["sentence"])
            for rec in record["recordings"]:
                file = rec.get("file") if isinstance(rec, dict) else None
                if not file:
                    raise UserError(f"{where}: a recording has no 'file'")
                headset = recording_id(file).endswith("-headset")
                if (mic == "headset" and not headset) or (mic == "far" and headset):
                    continue
                audio = audio_dir / file
                if not audio.is_file():
                    raise UserError(f"{where}: audio file {audio} not found "
                                    f"(download SLURP's audio into {audio_dir})")
                spk = speakers.get(file)
                utt = utt_id(spk, file)
                utts.append(SlurpUtt(utt, spk or utt, audio.resolve(), text, annotation,
                                     scenario, action, intent))
    return utts


def prepare(slurp_root: str | Path, out_dir: str | Path, mic: str = "all") -> dict[str, int]:
    """Write ``<out_dir>/{train,dev,test}`` from a SLURP root; returns utterances per split.

    A recording listed twice (in one split or across splits) is kept once, at
    its first listing.  Every written data dir is validated.
    """
    root = Path(slurp_root)
    if not (root / "dataset" / "slurp").is_dir():
        raise UserError(f"{root}: not a SLURP root (no dataset/slurp/ directory)")
    speakers = _speakers(root)
    seen: set[str] = set()
    counts = {}
    for split, name in SPLITS.items():
        utts = []
        for u in read_split(root, split, mic, speakers):
            if u.utt not in seen:
                seen.add(u.utt)
                utts.append(u)
        if not utts:
            raise UserError(f"{root}/dataset/slurp/{split}.jsonl: no recordings "
                            f"(microphone selection '{mic}')")
        ddir = clear_data_dir(Path(out_dir) / name)
        write_table(ddir / "wav.scp", {u.utt: str(u.path) for u in utts})
        write_table(ddir / "text", {u.utt: u.text for u in utts})
        write_table(ddir / "text.annot", {u.utt: u.annotation for u in utts})
        utt2spk = {u.utt: u.speaker for u in utts}
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        write_table(ddir / "utt2intent", {u.utt: u.intent for u in utts})
        write_table(ddir / "utt2scenario", {u.utt: u.scenario for u in utts})
        write_table(ddir / "utt2action", {u.utt: u.action for u in utts})
        problems = validate_data_dir(ddir, audio="header")
        if problems:
            raise UserError(f"{ddir}: prepared data dir is invalid: {problems[0]}")
        counts[name] = len(utts)
    write_text_atomic(Path(out_dir) / "README.md", _readme(root, mic, counts))
    return counts


def _readme(root: Path, mic: str, counts: dict[str, int]) -> str:
    rows = "\n".join(f"| {name} | {n} |" for name, n in counts.items())
    return f"""# SLURP data directories

Prepared by `ssltk.corpora.slurp.prepare` from `{root}` (microphones: {mic}).

| split | utterances |
|---|---|
{rows}

SLURP's `devel` split is `dev` here. Tables: `wav.scp` (absolute paths to the
audio), `text` (the sentence without commas and periods, `@`/`#` spelt out),
`text.annot` (the same with slots as `[type : filler]`), `utt2spk`/`spk2utt`
(SLURP's `usrid` from `metadata.json`; without it each recording is its own
speaker), `utt2intent` (`scenario_action`), `utt2scenario`, `utt2action`.
Utterance ids are `<speaker>-<recording id>`.

Licences are those of the source corpus: the real SLURP's text is CC BY 4.0 and
its audio CC BY-NC 4.0; for ssltk's synthetic corpus see its own README.md.
"""
