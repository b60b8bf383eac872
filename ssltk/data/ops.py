"""Operations on data directories: fix, combine, subset, split, filter, speed-perturb.

Each writes complete, sorted tables atomically and regenerates ``spk2utt``.
"""

from __future__ import annotations

import random

import shutil
import sys
from pathlib import Path

from ssltk.data.datadir import DataDir, DataDirError, read_entries

# ---------------------------------------------------------------------------
# fix


def fix_data_dir(path: str | Path, log=None) -> tuple[int, int]:
    """Sort every table and keep only utterances present in all of them.

    Utterances with an empty transcript are dropped too.  The original files
    are first copied to ``<dir>/.backup/``.  Returns ``(kept, dropped)`` and
    says on ``log`` how many were dropped and why.
    """
    log = log or sys.stderr
    ddir = DataDir(path)
    names = ddir.utt_tables()
    if "wav.scp" not in names:
        raise DataDirError(f"{ddir.path / 'wav.scp'}: required file missing")
    backup = ddir.path / ".backup"
    backup.mkdir(exist_ok=True)
    for name in names + (["spk2utt"] if ddir.has("spk2utt") else []):
        shutil.copy2(ddir.path / name, backup / name)

    has_segments = "segments" in names
    tables = {name: _read_loose(ddir.path / name, log) for name in names}
    index = "segments" if has_segments else "wav.scp"
    all_utts = set(tables[index])
    keep = set(all_utts)
    reasons: list[str] = []
    for name, table in tables.items():
        if name == "wav.scp" and has_segments:
            continue
        missing = keep - table.keys()
        if missing:
            reasons.append(f"{len(missing)} missing from {name}")
            keep -= missing
    if "text" in tables:
        empty = {u for u in keep if not tables["text"][u]}
        if empty:
            reasons.append(f"{len(empty)} with an empty transcript")
            keep -= empty
    if has_segments:
        recos = {tables["segments"][u].split()[0] for u in keep}
        missing = {u for u in keep if tables["segments"][u].split()[0] not in tables["wav.scp"]}
        if missing:
            reasons.append(f"{len(missing)} whose recording is missing from wav.scp")
            keep -= missing
        tables["wav.scp"] = {r: v for r, v in tables["wav.scp"].items() if r in recos}
    for name, table in tables.items():
        subset = table if name == "wav.scp" and has_segments else \
            {u: v for u, v in table.items() if u in keep}
        ddir.write(name, subset)
    if "utt2spk" in tables:
        ddir.write_spk2utt()
    dropped = len(all_utts) - len(keep)
    why = f" ({'; '.join(reasons)})" if reasons else ""
    print(f"fix_data_dir: {ddir.path}: kept {len(keep)} of {len(all_utts)} utterances, "
          f"dropped {dropped}{why}; originals in {backup}", file=log)
    return len(keep), dropped


def _read_loose(path: Path, log) -> dict[str, str]:
    """Read a table that may be unsorted or hold duplicates (the first one wins)."""
    table: dict[str, str] = {}
    for e in read_entries(path):
        if e.key in table:
            print(f"fix_data_dir: {e.where}: dropping duplicate of '{e.key}'", file=log)
            continue
        table[e.key] = e.value
    return table


# ---------------------------------------------------------------------------
# combine


def combine_data(dest: str | Path, sources: list[str | Path], log=None) -> int:
    """Concatenate data directories into ``dest``; returns the utterance count.

    Tables present in every source are combined; a table missing from some
    sources is left out with a warning.  An utterance (or recording) id found
    in two sources is an error naming both.
    """
    log = log or sys.stderr
    if not sources:
        raise DataDirError("combine_data: no source directories given")
    dirs = [DataDir(s) for s in sources]
    with_segments = [d.has("segments") for d in dirs]
    if any(with_segments) and not all(with_segments):
        raise DataDirError("combine_data: some sources have 'segments' and some don't: "
                           + ", ".join(str(d.path) for d, s in zip(dirs, with_segments) if not s))
    names = sorted(set().union(*(d.utt_tables() for d in dirs)))
    combined: dict[str, dict[str, str]] = {}
    for name in names:
        lacking = [str(d.path) for d in dirs if not d.has(name)]
        if lacking:
            print(f"combine_data: leaving out {name}: missing from {', '.join(lacking)}", file=log)
            continue
        merged: dict[str, str] = {}
        origin: dict[str, Path] = {}
        for d in dirs:
            for key, value in d.table(name).items():
                if key in merged:
                    raise DataDirError(f"combine_data: id '{key}' in both {origin[key] / name} "
                                       f"and {d.path / name}")
                merged[key], origin[key] = value, d.path
        combined[name] = merged
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in combined.items():
        DataDir(out).write(name, table)
    if "utt2spk" in combined:
        DataDir(out).write_spk2utt()
    index = "segments" if "segments" in combined else "wav.scp"
    return len(combined[index])


# ---------------------------------------------------------------------------
# subset


def subset_data_dir(src: str | Path, dest: str | Path, *, utt_list: str | Path | None = None,
                    spk_list: str | Path | None = None, first: int | None = None,
                    last: int | None = None, num: int | None = None,
                    per_label: tuple[str, int] | None = None, seed: int = 0) -> int:
    """Copy a subset of ``src`` to ``dest``; returns the utterance count.

    Exactly one selector: ``utt_list`` / ``spk_list`` (files whose first field
    is an id), ``first`` / ``last`` N utterances, ``num`` utterances evenly
    spaced through the directory (Kaldi's default), or ``per_label = (table, N)``:
    N utterances of every value of ``table`` (e.g. ``utt2category``: a few-shot
    training set), drawn at random with ``seed``.
    """
    chosen = [x for x in (utt_list, spk_list, first, last, num, per_label) if x is not None]
    if len(chosen) != 1:
        raise ValueError("subset_data_dir: give exactly one of utt_list, spk_list, first, last, "
                         "num, per_label")
    sdir = DataDir(src)
    utts = sdir.utt_ids()
    if per_label is not None:
        keep = _per_label(sdir, utts, *per_label, seed)
    elif utt_list is not None:
        wanted = set(_first_fields(utt_list))
        keep = [u for u in utts if u in wanted]
    elif spk_list is not None:
        speakers = set(_first_fields(spk_list))
        utt2spk = sdir.table("utt2spk")
        keep = [u for u in utts if utt2spk.get(u) in speakers]
    else:
        n = first if first is not None else last if last is not None else num
        if not 0 < n <= len(utts):
            raise DataDirError(f"subset_data_dir: asked for {n} utterances, {src} has {len(utts)}")
        if first is not None:
            keep = utts[:n]
        elif last is not None:
            keep = utts[-n:]
        else:
            keep = [utts[i * len(utts) // n] for i in range(n)]
    return _write_subset(sdir, Path(dest), set(keep))


def _per_label(sdir: DataDir, utts: list[str], table: str, n: int, seed: int) -> list[str]:
    if not sdir.has(table):
        raise DataDirError(f"{sdir.path}: no {table} table to select by")
    if n < 1:
        raise DataDirError(f"subset_data_dir: asked for {n} utterances per label")
    labels = sdir.table(table)
    by_label: dict[str, list[str]] = {}
    for utt in utts:
        if utt not in labels:
            raise DataDirError(f"utterance '{utt}' of {sdir.path} is missing from {sdir.path / table}")
        by_label.setdefault(labels[utt], []).append(utt)
    rng = random.Random(seed)
    keep = []
    for label, members in sorted(by_label.items()):
        if len(members) < n:
            raise DataDirError(f"{sdir.path / table}: label '{label}' has {len(members)} utterances, "
                               f"fewer than the {n} asked for")
        keep += rng.sample(members, n)
    return keep


def _first_fields(path: str | Path) -> list[str]:
    return [e.key for e in read_entries(path)]


def _write_subset(sdir: DataDir, dest: Path, keep: set[str]) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    ddir = DataDir(dest)
    has_segments = sdir.has("segments")
    for name in sdir.utt_tables():
        table = sdir.table(name)
        if name == "wav.scp" and has_segments:
            recos = {v.split()[0] for u, v in sdir.table("segments").items() if u in keep}
            ddir.write(name, {r: v for r, v in table.items() if r in recos})
        else:
            ddir.write(name, {u: v for u, v in table.items() if u in keep})
    if ddir.has("utt2spk"):
        ddir.write_spk2utt()
    return len(keep)


# ---------------------------------------------------------------------------
# split


def split_lines(lines: list[str], n: int) -> list[list[str]]:
    """Split into ``n`` contiguous parts whose sizes differ by at most one."""
    if not 0 < n <= len(lines):
        raise DataDirError(f"cannot split {len(lines)} lines into {n} parts")
    bounds = [i * len(lines) // n for i in range(n + 1)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def split_by_speaker(lines: list[str], utt2spk: dict[str, str], n: int) -> list[list[str]]:
    """Split into ``n`` parts with no speaker in two parts, balancing utterances.

    Speakers are taken in order and assigned to parts contiguously, so part
    boundaries fall between speakers; each part gets at least one speaker.
    """
    groups: list[list[str]] = []
    last_spk = None
    for line in lines:
        utt = line.split(maxsplit=1)[0]
        if utt not in utt2spk:
            raise DataDirError(f"split: utterance '{utt}' not in utt2spk")
        if utt2spk[utt] != last_spk:
            groups.append([])
            last_spk = utt2spk[utt]
        groups[-1].append(line)
    if not 0 < n <= len(groups):
        raise DataDirError(f"cannot split {len(groups)} speakers into {n} parts")
    parts: list[list[str]] = [[] for _ in range(n)]
    done, target = 0, len(lines) / n
    part = 0
    for i, group in enumerate(groups):
        # move to the next part when this one is full, keeping a speaker for each later part
        remaining_groups, remaining_parts = len(groups) - i, n - part - 1
        if parts[part] and (done >= target * (part + 1) or remaining_groups <= remaining_parts):
            part += 1
        parts[part].extend(group)
        done += len(group)
    return parts


def split_data_dir(path: str | Path, n: int, per_speaker: bool = False) -> list[Path]:
    """Kaldi's split_data: write ``<dir>/split<n>[utt]/{1..n}``; reuse them when up to date."""
    sdir = DataDir(path)
    out = sdir.path / (f"split{n}" if per_speaker else f"split{n}utt")
    parts = [out / str(i + 1) for i in range(n)]
    newest_src = max((sdir.path / t).stat().st_mtime for t in sdir.utt_tables())
    if all((p / ".done").is_file() and (p / ".done").stat().st_mtime >= newest_src for p in parts):
        return parts
    utts = sdir.utt_ids()
    if per_speaker:
        groups = split_by_speaker(utts, sdir.table("utt2spk"), n)
    else:
        groups = split_lines(utts, n)
    for part, group in zip(parts, groups):
        _write_subset(sdir, part, set(group))
        (part / ".done").touch()
    return parts


# ---------------------------------------------------------------------------
# filter


def filter_lines(ids: set[str], lines: list[str], field: int = 1, exclude: bool = False) -> list[str]:
    """Keep lines whose ``field``-th field (1-based) is (or, with exclude, is not) in ``ids``."""
    out = []
    for line in lines:
        fields = line.split()
        hit = len(fields) >= field and fields[field - 1] in ids
        if hit != exclude:
            out.append(line)
    return out


# ---------------------------------------------------------------------------
# speed perturbation

# tables that describe the audio itself: rewritten (wav.scp, utt2spk) or left out (stale)
_AUDIO_TABLES = {"wav.scp", "segments", "utt2spk", "spk2utt", "utt2dur", "utt2num_samples", "reco2dur"}


def speed_perturb_data_dir(src: str | Path, dest: str | Path, factor: float) -> int:
    """Kaldi's perturb_data_dir_speed.sh with the audio written out: ``dest`` holds every
    utterance of ``src`` played ``factor`` times faster as ``dest/wav/<id>.flac``, with ids
    and speakers prefixed ``sp<factor>-`` (a speaker at another speed is another voice).
    Other utterance tables (text, ...) are copied; returns the utterance count."""
    import soundfile as sf
    import torch

    from ssltk.data.audio import load_audio
    from ssltk.data.augment import change_speed, check_speed_factors

    problem = check_speed_factors([factor])
    if problem:
        raise DataDirError(f"speed_perturb_data_dir: {problem}")
    sdir, out = DataDir(src), Path(dest)
    prefix = f"sp{factor:g}-"
    (out / "wav").mkdir(parents=True, exist_ok=True)
    wav_scp = {}
    for utt, spec in sdir.audio_specs().items():
        samples, rate = load_audio(spec)
        faster = change_speed(torch.from_numpy(samples), factor).numpy()
        path = (out / "wav" / f"{prefix}{utt}.flac").resolve()
        sf.write(path, faster, rate, subtype="PCM_16")
        wav_scp[prefix + utt] = str(path)
    dirout = DataDir(out)
    for name in sdir.utt_tables():
        if name not in _AUDIO_TABLES:
            dirout.write(name, {prefix + k: v for k, v in sdir.table(name).items()})
    if sdir.has("utt2spk"):
        dirout.write("utt2spk", {prefix + k: prefix + v for k, v in sdir.table("utt2spk").items()})
        dirout.write_spk2utt()
    dirout.write("wav.scp", wav_scp)  # last: a directory with wav.scp is complete
    return len(wav_scp)
