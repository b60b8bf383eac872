"""Line-table tools behind ``utils/{split_scp.sh,filter_scp.sh,utt2spk_to_spk2utt.sh}``.

Tables are read from a file or, for ``None`` / ``-``, from stdin; blank lines are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ssltk.data import ops
from ssltk.data.datadir import DataDirError, read_table, utt2spk_to_spk2utt, write_text_atomic


def read_lines(path: str | None) -> list[str]:
    """Non-blank lines of ``path`` (stdin for ``None`` or ``-``), without newlines."""
    if path in (None, "-"):
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not Path(path).is_file():
        raise DataDirError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def split_scp(input: str | None, outputs: list[str], utt2spk: str | None = None) -> None:
    """Split table ``input`` into contiguous parts, one per ``outputs`` file; with
    ``utt2spk``, no speaker is split between two parts."""
    lines = read_lines(input)
    if utt2spk:
        parts = ops.split_by_speaker(lines, read_table(utt2spk, strict=False), len(outputs))
    else:
        parts = ops.split_lines(lines, len(outputs))
    for out, part in zip(outputs, parts):
        write_text_atomic(out, "".join(line + "\n" for line in part))


def spk2utt_lines(utt2spk: str | None) -> list[str]:
    """``<spk> <utt> ...`` lines of an ``utt2spk`` table (stdin for ``None``)."""
    table = {}
    for lineno, line in enumerate(read_lines(utt2spk), 1):
        fields = line.split()
        if len(fields) != 2:
            raise DataDirError(f"{utt2spk or 'stdin'}:{lineno}: expected '<utt> <speaker>', got '{line}'")
        table[fields[0]] = fields[1]
    return [f"{spk} {utts}" for spk, utts in utt2spk_to_spk2utt(table).items()]


def filter_scp(idlist: str, input: str | None, field: int = 1, exclude: bool = False) -> list[str]:
    """Lines of ``input`` whose ``field``-th field is (``exclude``: is not) an id of ``idlist``."""
    ids = {line.split()[0] for line in read_lines(idlist)}
    return ops.filter_lines(ids, read_lines(input), field, exclude)
