"""Kaldi / ESPnet data directories.

A data directory holds text tables keyed by utterance (or recording) id, one
entry a line, ``<id> <value>``, sorted by id in byte order (``LC_ALL=C sort``):

- ``wav.scp``: ``<utt> <path>`` or ``<utt> <command> |`` (keyed by recording id
  when ``segments`` exists);
- ``segments``: ``<utt> <recording> <start-seconds> <end-seconds>``;
- ``text``: ``<utt> <transcript>``; ``utt2spk``: ``<utt> <speaker>``;
- ``spk2utt``: ``<speaker> <utt> <utt> ...`` (derived from utt2spk);
- task tables such as ``utt2category``, ``utt2intent``, ``utt2lang``,
  ``feats.scp``, ``utt2num_frames``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssltk.errors import UserError

if TYPE_CHECKING:
    from ssltk.data.audio import AudioSpec

# Tables keyed by utterance id that fix/combine/subset carry along.  Any other
# file named ``utt2*`` or ``text*`` is treated the same way.
UTT_TABLES = ("wav.scp", "segments", "text", "utt2spk", "feats.scp", "utt2num_frames",
              "utt2dur", "utt2category", "utt2intent", "utt2lang", "text.lang")
# Tables that must exist in every data directory.
REQUIRED_TABLES = ("wav.scp", "utt2spk")


class DataDirError(UserError):
    """A data directory is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    """One line of a table: the id, the rest of the line, and where it came from."""

    key: str
    value: str
    path: Path
    lineno: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.lineno}"


def read_entries(path: str | os.PathLike) -> list[Entry]:
    """Read a table as written, in file order, keeping line numbers.

    Blank lines are errors (Kaldi rejects them too); a line with only an id has
    an empty value.  No sorting or uniqueness check: see `read_table`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: no such file")
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                raise DataDirError(f"{path}:{lineno}: empty line")
            key, _, value = line.strip().partition(" ")
            entries.append(Entry(key, value.strip(), path, lineno))
    return entries


def check_sorted_unique(entries: list[Entry]) -> None:
    """Raise naming the first duplicate or out-of-order id (C-locale order)."""
    seen: dict[str, int] = {}
    for prev, cur in zip([None, *entries], entries):
        if cur.key in seen:
            raise DataDirError(
                f"{cur.where}: duplicate id '{cur.key}' (first at line {seen[cur.key]})")
        seen[cur.key] = cur.lineno
        if prev is not None and cur.key.encode() < prev.key.encode():
            raise DataDirError(
                f"{cur.where}: ids not sorted: '{cur.key}' after '{prev.key}' "
                f"(sort with LC_ALL=C, or run utils/fix_data_dir.sh)")


def read_table(path: str | os.PathLike, strict: bool = True) -> dict[str, str]:
    """Read a table into an ordered ``{id: value}`` dict.

    With ``strict`` (the default) ids must be unique and sorted; otherwise the
    last duplicate wins and the order is the file's.
    """
    entries = read_entries(path)
    if strict:
        check_sorted_unique(entries)
    return {e.key: e.value for e in entries}


def sort_key(key: str) -> bytes:
    """Kaldi's order: byte order of the UTF-8 id (``LC_ALL=C sort``)."""
    return key.encode("utf-8")


def write_table(path: str | os.PathLike, table: dict[str, str] | list[tuple[str, str]]) -> None:
    """Write ``id value`` lines sorted by id, atomically (temp file + rename)."""
    items = table.items() if isinstance(table, dict) else table
    lines = [f"{k} {v}".rstrip() + "\n" for k, v in sorted(items, key=lambda kv: sort_key(kv[0]))]
    write_text_atomic(path, "".join(lines))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file so that readers never see a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON atomically; non-finite floats become null."""
    write_text_atomic(path, json.dumps(_finite(data), indent=2, ensure_ascii=False) + "\n")


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def clear_data_dir(path: str | os.PathLike) -> Path:
    """Empty (or create) a data directory that a data preparation is about to write,
    so that no table of an earlier preparation (utt2dur, feats.scp...) outlives it."""
    path = Path(path)
    if path.is_dir():
        for p in path.iterdir():
            if p.is_file() or p.is_symlink():
                p.unlink()
            else:
                shutil.rmtree(p)
    path.mkdir(parents=True, exist_ok=True)
    return path


def utt2spk_to_spk2utt(utt2spk: dict[str, str]) -> dict[str, str]:
    """``{utt: spk}`` -> ``{spk: "utt1 utt2 ..."}``, speakers and their utts sorted."""
    spk2utts: dict[str, list[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utts.setdefault(spk, []).append(utt)
    return {spk: " ".join(sorted(utts, key=sort_key)) for spk, utts in spk2utts.items()}


def is_utt_table(name: str) -> bool:
    """Whether a file in a data dir is keyed by utterance id."""
    return name in UTT_TABLES or name.startswith(("utt2", "text"))


class DataDir:
    """A Kaldi data directory on disk.

    >>> d = DataDir("data/train")
    >>> d.table("text")["utt1"]
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataDirError(f"{self.path}: data directory not found")

    def __repr__(self) -> str:
        return f"DataDir('{self.path}')"

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str, strict: bool = True) -> dict[str, str]:
        return read_table(self.path / name, strict=strict)

    def write(self, name: str, table: dict[str, str]) -> None:
        write_table(self.path / name, table)

    def utt_tables(self) -> list[str]:
        """Names of the utterance-keyed tables present, sorted."""
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and is_utt_table(p.name))

    def utt_ids(self) -> list[str]:
        """Utterance ids: from ``segments`` when present, else ``wav.scp``."""
        return list(self.table("segments" if self.has("segments") else "wav.scp"))

    def audio_specs(self) -> dict[str, AudioSpec]:
        """``{utt: AudioSpec}`` resolving ``segments`` against ``wav.scp``."""
        from ssltk.data.audio import AudioSpec

        wav = self.table("wav.scp")
        if not self.has("segments"):
            return {utt: AudioSpec(utt, spec) for utt, spec in wav.items()}
        specs = {}
        for e in read_entries(self.path / "segments"):
            fields = e.value.split()
            if len(fields) != 3:
                raise DataDirError(f"{e.where}: expected '<utt> <recording> <start> <end>'")
            reco, start, end = fields
            if reco not in wav:
                raise DataDirError(f"{e.where}: recording '{reco}' not in {self.path / 'wav.scp'}")
            try:
                start_s, end_s = float(start), float(end)
            except ValueError:
                raise DataDirError(f"{e.where}: start/end are not numbers: '{start} {end}'") from None
            if not 0 <= start_s < end_s and not (end_s == -1 and start_s >= 0):
                raise DataDirError(f"{e.where}: bad segment times {start}..{end}")
            specs[e.key] = AudioSpec(e.key, wav[reco], start_s, None if end_s == -1 else end_s)
        return specs

    def write_spk2utt(self) -> None:
        self.write("spk2utt", utt2spk_to_spk2utt(self.table("utt2spk")))
