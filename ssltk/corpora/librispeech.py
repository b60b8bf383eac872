"""LibriSpeech (Panayotov et al. 2015, CC BY 4.0) -> Kaldi data dirs, and its LM text as
the unpaired text of unsupervised ASR.

Layout: ``<root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``<utt-id> TRANSCRIPT``, upper case);
``<root>/SPEAKERS.TXT`` (optional) gives genders.  A subset ``train-clean-100`` becomes
``<out>/train_clean_100`` with ``wav.scp`` (the flac files, read directly), ``text``
(LibriSpeech's upper-case transcripts, unchanged), ``utt2spk``, ``spk2utt`` and, when
``SPEAKERS.TXT`` is there, ``spk2gender``.  The text side (``prepare_text``): the LM
corpus (e.g. ``librispeech-lm-norm.txt``, one sentence per line) lower-cased, blank
lines dropped, and every sentence that is the transcript of a prepared utterance removed,
so that no sentence is on both sides -> ``<out>/text_only/text.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ssltk.data.datadir import clear_data_dir, utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

_UTT = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def subset_dir_name(subset: str) -> str:
    return subset.replace("-", "_")


def read_subset(root: str | Path, subset: str) -> dict[str, tuple[Path, str]]:
    """``{utt: (flac, transcript)}`` of one subset; every flac needs a transcript line and
    every transcript line a flac."""
    base = Path(root) / subset
    if not base.is_dir():
        raise UserError(f"{base}: no such LibriSpeech subset directory")
    out: dict[str, tuple[Path, str]] = {}
    flacs = {p.stem: p for p in base.glob("*/*/*.flac")}
    for trans in sorted(base.glob("*/*/*.trans.txt")):
        for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, text = line.partition(" ")
            if not _UTT.match(utt) or not text.strip():
                raise UserError(f"{trans}:{n}: expected '<speaker>-<chapter>-<utt> TRANSCRIPT'")
            if utt not in flacs:
                raise UserError(f"{trans}:{n}: no audio {trans.parent / (utt + '.flac')}")
            out[utt] = (flacs[utt], " ".join(text.split()))
    missing = sorted(set(flacs) - set(out))
    if missing:
        raise UserError(f"{flacs[missing[0]]}: no transcript line for '{missing[0]}' "
                        f"({len(missing)} flac file(s) without one)")
    if not out:
        raise UserError(f"{base}: no transcribed flac files")
    return out


def _genders(root: Path) -> dict[str, str]:
    path = root / "SPEAKERS.TXT"
    if not path.is_file():
        return {}
    genders = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[1] in ("M", "F"):
            genders[fields[0]] = fields[1].lower()
    return genders


def prepare(root: str | Path, subsets: list[str], out_dir: str | Path,
            max_utts: int | None = None) -> dict[str, int]:
    """One data dir per subset; returns utterances per data dir."""
    root, out = Path(root), Path(out_dir)
    if not root.is_dir():
        raise UserError(f"{root}: no such LibriSpeech directory")
    genders = _genders(root)
    counts = {}
    for subset in subsets:
        utts = read_subset(root, subset)
        keep = sorted(utts)[:max_utts] if max_utts else sorted(utts)
        ddir = clear_data_dir(out / subset_dir_name(subset))
        utt2spk = {u: u.split("-")[0] for u in keep}
        write_table(ddir / "wav.scp", {u: str(utts[u][0].resolve()) for u in keep})
        write_table(ddir / "text", {u: utts[u][1] for u in keep})
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        spk_genders = {s: genders[s] for s in set(utt2spk.values()) if s in genders}
        if spk_genders:
            write_table(ddir / "spk2gender", spk_genders)
        problems = validate_data_dir(ddir, audio="header")
        if problems:
            raise UserError(f"{ddir}: invalid data dir: {problems[0]}")
        counts[ddir.name] = len(keep)
    return counts


def prepare_text(lm_text: str | Path, out_dir: str | Path, exclude_dirs: list[Path]) -> tuple[int, int]:
    """Unpaired text: ``<out>/text_only/text.txt``; returns (sentences kept, removed as
    transcripts of the speech side)."""
    path = Path(lm_text)
    if not path.is_file():
        raise UserError(f"{path}: no such LM text file")
    spoken = set()
    for ddir in exclude_dirs:
        for line in (Path(ddir) / "text").read_text(encoding="utf-8").splitlines():
            spoken.add(line.partition(" ")[2].lower())
    kept, removed = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            sentence = " ".join(line.lower().split())
            if not sentence:
                continue
            if sentence in spoken:
                removed += 1
                continue
            kept.append(sentence)
    if not kept:
        raise UserError(f"{path}: no sentences left for the text side")
    write_text_atomic(Path(out_dir) / "text_only" / "text.txt", "".join(s + "\n" for s in kept))
    return len(kept), removed
