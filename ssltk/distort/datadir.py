"""A distorted copy of a data directory for evaluation (``python -m ssltk.bin.distort_data``).

DEST gets every utterance of SRC distorted (epoch 0 of `ssltk.distort.apply.utterance_rng`)
as ``DEST/wav/<utt>.flac`` (16-bit, at ``sample_rate``), keyed by the same ids in
``wav.scp``; copies of the other tables (``text``, ``utt2spk``, ``spk2utt``,
``utt2category``, ...; not those describing the old audio: ``segments``, ``utt2dur``,
``feats.scp``, ...); and ``distortion.yaml``: the source, a digest of its tables, the seed,
the rate and the distortion with every parameter.

- Idempotent: when ``distortion.yaml`` holds the same settings and ``wav.scp`` (written
  last) exists, nothing is written.
- Resumable: each file is written to a temporary name and renamed, so an interrupted run
  leaves only whole files; a rerun with the same settings keeps them and writes the rest.
- Other settings (or a changed source): an error, unless ``force``, which empties DEST and
  writes it anew.
- Level: an utterance whose distorted peak would clip 16-bit audio is scaled down to just
  below full scale (SNRs unchanged; counted in the summary).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from ssltk.data.audio import load_audio
from ssltk.data.datadir import DataDir, clear_data_dir, write_table, write_text_atomic
from ssltk.distort.apply import Distorter
from ssltk.distort.config import DistortionConfig
from ssltk.distort.sources import BabblePool
from ssltk.errors import UserError

SETTINGS = "distortion.yaml"
# tables describing the source's audio: rewritten (wav.scp) or left out as stale
AUDIO_TABLES = {"wav.scp", "segments", "reco2file_and_channel", "reco2dur", "utt2dur", "utt2num_samples",
                "feats.scp", "utt2num_frames", "cmvn.scp", SETTINGS}
FULL_SCALE = 32767 / 32768


def distort_data_dir(src: str | Path, dest: str | Path, distortion: DistortionConfig, seed: int = 0,
                     sample_rate: int = 16000, force: bool = False, log=None) -> int:
    """Write the distorted copy of ``src`` to ``dest`` (see the module notes); returns the
    number of utterances."""
    log = log or sys.stderr
    sdir, out = DataDir(src), Path(dest)
    if out.resolve() == sdir.path.resolve():
        raise UserError(f"distort_data: the output directory must differ from the source {sdir.path}")
    specs = sdir.audio_specs()
    bad = [u for u in specs if "/" in u or u.startswith(".")]
    if bad:
        raise UserError(f"{sdir.path}: utterance id '{bad[0]}' cannot name a file")
    tables = sorted(p.name for p in sdir.path.iterdir()
                    if p.is_file() and not p.name.startswith(".") and p.name not in AUDIO_TABLES)
    settings = {"source": str(sdir.path.resolve()),
                "source_digest": _digest(sdir.path, tables + ["wav.scp", "segments"]),
                "seed": seed, "sample_rate": sample_rate, "distortion": distortion.record()}
    wav_dir = out / "wav"
    paths = {utt: (wav_dir / f"{utt}.flac").resolve() for utt in specs}
    if _check_previous(out, settings, force) and all(p.is_file() for p in paths.values()):
        print(f"distort_data: {out}: up to date ({len(specs)} utterances; settings in {out / SETTINGS})",
              file=log)
        return len(specs)
    write_text_atomic(out / SETTINGS, yaml.safe_dump(settings, sort_keys=False))

    distorter = Distorter([distortion], seed, sample_rate)
    pool = BabblePool.from_data_dir(sdir.path, sample_rate) \
        if distortion.kind == "babble" and not distortion.params()["data_dir"] else None
    wav_dir.mkdir(parents=True, exist_ok=True)
    for leftover in [*out.glob(".*.tmp"), *wav_dir.glob(".*.tmp")]:  # from an interrupted write
        leftover.unlink()
    written = scaled = 0
    for utt, spec in specs.items():
        if paths[utt].is_file():  # whole (renamed into place), written with these settings
            continue
        samples, _ = load_audio(spec, sample_rate)
        y = distorter.utterance(samples, utt, 0, pool)
        peak = float(np.max(np.abs(y), initial=0.0))
        if peak > FULL_SCALE:
            y, scaled = y * (FULL_SCALE / peak), scaled + 1
        _write_flac(paths[utt], y, sample_rate)
        written += 1
    for name in tables:
        _copy_atomic(sdir.path / name, out / name)
    if "utt2spk" in tables and "spk2utt" not in tables:
        DataDir(out).write_spk2utt()
    write_table(out / "wav.scp", {utt: str(p) for utt, p in paths.items()})  # last: the copy is complete
    kept = len(specs) - written
    print(f"distort_data: {out}: wrote {written} utterances ({distortion.label}, seed {seed})"
          + (f", kept {kept} written before" if kept else "")
          + (f"; {scaled} scaled down to avoid clipping" if scaled else ""), file=log)
    return len(specs)


def _check_previous(out: Path, settings: dict, force: bool) -> bool:
    """Whether ``out`` holds a complete copy with ``settings``; empties it (``force``) or
    raises if it holds anything else."""
    record = out / SETTINGS
    if record.is_file():
        try:
            old = yaml.safe_load(record.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            old = None
        if old == settings:
            return (out / "wav.scp").is_file()
        if not force:
            differ = _differences(old if isinstance(old, dict) else {}, settings)
            raise UserError(f"{out}: holds a copy made with other settings ({', '.join(differ)} differ; "
                            f"see {record}); use --force to replace it, or write elsewhere")
        clear_data_dir(out)
    elif out.is_dir() and any(out.iterdir()):
        if not force:
            raise UserError(f"{out}: exists and was not written by distort_data (no {SETTINGS}); "
                            "remove it, write elsewhere, or use --force to replace it")
        clear_data_dir(out)
    return False


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new), key=str)
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def _digest(root: Path, names: list[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        if (root / name).is_file():
            h.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return h.hexdigest()


def _write_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = np.clip(np.round(samples * 32768), -32768, 32767).astype(np.int16)  # 16-bit, as read back
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        sf.write(str(tmp), pcm, rate, subtype="PCM_16", format="FLAC")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_atomic(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
