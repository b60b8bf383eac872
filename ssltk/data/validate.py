"""Checks a data directory and names each problem's file, line and utterance."""

from __future__ import annotations

from pathlib import Path

from ssltk.data.audio import AudioError, AudioSpec, audio_info, load_audio
from ssltk.data.datadir import (REQUIRED_TABLES, DataDir, DataDirError, Entry, check_sorted_unique,
                                read_entries, utt2spk_to_spk2utt)

AUDIO_CHECKS = ("none", "header", "full")


def validate_data_dir(path: str | Path, audio: str = "header", max_problems: int = 50) -> list[str]:
    """Return the problems found in a data directory (empty list: valid).

    ``audio`` selects the audio check: ``header`` reads each file's header
    (missing, corrupt, empty, multi-channel; pipes are not run), ``full``
    decodes every entry (pipes included), ``none`` skips audio.
    """
    if audio not in AUDIO_CHECKS:
        raise ValueError(f"audio check must be one of {AUDIO_CHECKS}, got '{audio}'")
    problems: list[str] = []
    try:
        ddir = DataDir(path)
    except DataDirError as e:
        return [str(e)]
    for name in REQUIRED_TABLES:
        if not ddir.has(name):
            problems.append(f"{ddir.path / name}: required file missing")
    if problems:
        return problems

    tables: dict[str, list[Entry]] = {}
    for name in [*ddir.utt_tables(), *(["spk2utt"] if ddir.has("spk2utt") else [])]:
        try:
            tables[name] = entries = read_entries(ddir.path / name)
            check_sorted_unique(entries)
        except DataDirError as e:
            problems.append(str(e))
    if problems:  # later checks assume well-formed tables
        return problems

    index_name = "segments" if "segments" in tables else "wav.scp"
    utts = {e.key: e for e in tables[index_name]}
    for name, entries in tables.items():
        if name in ("spk2utt", "wav.scp" if index_name == "segments" else ""):
            continue
        keys = {e.key for e in entries}
        for utt, e in utts.items():
            if utt not in keys:
                problems.append(f"{e.where}: utterance '{utt}' missing from {ddir.path / name}")
        for e in entries:
            if e.key not in utts:
                problems.append(f"{e.where}: utterance '{e.key}' not in {ddir.path / index_name}")
    for e in tables.get("text", []):
        if not e.value:
            problems.append(f"{e.where}: empty transcript for utterance '{e.key}'")
    for e in tables["utt2spk"]:
        if len(e.value.split()) != 1:
            problems.append(f"{e.where}: expected '<utt> <speaker>', got '{e.key} {e.value}'")
    if "spk2utt" in tables and not problems:
        expected = utt2spk_to_spk2utt({e.key: e.value for e in tables["utt2spk"]})
        got = {e.key: " ".join(sorted(e.value.split())) for e in tables["spk2utt"]}
        if got != {k: " ".join(sorted(v.split())) for k, v in expected.items()}:
            problems.append(f"{ddir.path / 'spk2utt'}: does not match utt2spk "
                            "(regenerate it with utils/utt2spk_to_spk2utt.sh)")
    if problems or audio == "none":
        return problems[:max_problems]

    try:
        specs = ddir.audio_specs()
    except DataDirError as e:
        return [str(e)]
    wav_lines = {e.key: e for e in tables["wav.scp"]}
    for utt, spec in specs.items():
        if len(problems) >= max_problems:
            break
        error = _check_audio(spec, audio)
        if error:
            line = utts[utt].where if index_name == "segments" else wav_lines[utt].where
            problems.append(f"{line}: {error}")
    return problems


def _check_audio(spec: AudioSpec, audio: str) -> str | None:
    try:
        if audio == "full":
            load_audio(spec)
            return None
        if spec.is_pipe or ".ark:" in spec.entry:
            return None  # the header check runs no commands and opens no arks
        frames, rate, channels = audio_info(spec)
    except AudioError as e:
        return str(e)
    if channels != 1:
        return f"utterance '{spec.utt}': {spec.entry}: has {channels} channels; mono expected"
    if frames == 0:
        return f"utterance '{spec.utt}': {spec.entry}: empty audio (0 samples)"
    if spec.start * rate >= frames:
        return (f"utterance '{spec.utt}': segment starts at {spec.start}s, after the end "
                f"of {spec.entry} ({frames / rate:.3f}s)")
    return None
