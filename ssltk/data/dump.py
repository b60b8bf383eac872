"""The feature-dump format: the one module that writes, reads and compares dumps.

A dump is a directory (and a data directory, when made from one: the source's utterance
tables are copied in) holding

``feats.scp``          ``utt -> ark offset`` of a float32 matrix ``[frames, dim]`` per utterance;
``utt2num_frames``     the frames of each utterance;
``feats_info.yaml``    the `FeatureSpec` (``upstream``, ``layer``, ``weights``, ``layer_norm``),
                       ``dim``, ``frame_rate`` (frames per second) and the producer's extras;
``data/``              the shards: ``feats.JOB.ark``, ``feats.JOB.scp``,
                       ``utt2num_frames.JOB`` and ``.done.JOB`` (the shard's info, written last).

`DumpWriter` writes shards (a finished shard is kept when resuming), then `DumpWriter.finish`
merges them and writes ``feats_info.yaml`` last and atomically: a dump with an info file is
complete.  `Dump` reads one (info, spec, matrices, frame counts; errors name the file and
the utterance), `check_same` compares two dumps' features.  Producers:
`ssltk.data.extract` (upstream features), `ssltk.uasr.infer` (phone posteriorgrams, whose
spec names the UASR experiment as the upstream) and `ssltk.uasr.alignment` (a diagnostic
made from labels: ``upstream: null``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import kaldiio
import numpy as np
import yaml

from ssltk.data.datadir import DataDir, DataDirError, read_table, write_table, write_text_atomic
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec

FEATS_SCP = "feats.scp"
NUM_FRAMES = "utt2num_frames"
INFO_FILE = "feats_info.yaml"
SPEC_KEYS = ("upstream", "layer", "weights", "layer_norm")
COMPARE_KEYS = (*SPEC_KEYS, "dim")  # must agree between the train, valid and test dumps
INFO_KEYS = (*COMPARE_KEYS, "frame_rate")  # every feats_info.yaml has these
HINT = "precomputed features come from python -m ssltk.bin.extract_feats (its --out directory)"


def make_info(spec: FeatureSpec, dim: int, frame_rate: float, **extra: Any) -> dict:
    """The ``feats_info.yaml`` of a dump of ``spec``."""
    return {**spec.to_info(), "dim": int(dim), "frame_rate": float(frame_rate), **extra}


def _load_info(path: Path) -> dict:
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DataDirError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(info, dict):
        raise DataDirError(f"{path}: expected a mapping of feature facts")
    return info


def _normalized(info: dict) -> dict:
    """``info`` with its spec keys as `FeatureSpec` reads them (older spellings updated)."""
    return {**info, **FeatureSpec.from_info(info).to_info()}


def read_info(path: str | Path) -> dict:
    """``feats_info.yaml`` of the dump at ``path``, checked: the dump files exist and the
    info has every key of `INFO_KEYS`."""
    path = Path(path)
    for name in (FEATS_SCP, NUM_FRAMES, INFO_FILE):
        if not (path / name).is_file():
            raise DataDirError(f"{path}: no {name}; {HINT}")
    info = _load_info(path / INFO_FILE)
    missing = [k for k in INFO_KEYS if k not in info]
    if missing:
        raise DataDirError(f"{path / INFO_FILE}: missing {', '.join(missing)}")
    return _normalized(info)


def check_same(a: dict, b: dict, a_name: str, b_name: str) -> None:
    """Refuse two dumps (their infos) whose features differ in any of `COMPARE_KEYS`."""
    a, b = _normalized(a), _normalized(b)
    diff = [k for k in COMPARE_KEYS if a.get(k) != b.get(k)]
    if diff:
        shown = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in diff)
        raise UserError(f"{a_name} and {b_name} hold different features ({shown})")


class Dump:
    """A dump directory (or its ``feats.scp``), read.

    ``strict`` (the default): ``utt2num_frames`` and a complete ``feats_info.yaml`` must
    exist (`read_info`).  Otherwise both are optional and ``dim`` is read off the first
    matrix when the info has none.  Attributes: ``path`` (the directory), ``scp``, ``info``,
    ``spec``, ``dim``, ``frame_rate`` (None when unknown), ``utts`` (scp order) and
    ``num_frames`` (``{utt: frames}``, empty when unknown).
    """

    def __init__(self, path: str | Path, strict: bool = True):
        path = Path(path)
        self.scp = path if path.is_file() else path / FEATS_SCP
        self.path = self.scp.parent
        if strict:
            self.info = read_info(self.path)
        else:
            if not self.scp.is_file():
                raise UserError(f"{self.scp}: no such feature file or dump directory; {HINT}")
            info_path = self.path / INFO_FILE
            self.info = _normalized(_load_info(info_path)) if info_path.is_file() else {}
        self.table = read_table(self.scp)
        self.utts = list(self.table)
        frames_path = self.path / NUM_FRAMES
        self.num_frames: dict[str, int] = {}
        if frames_path.is_file():
            for utt, n in read_table(frames_path).items():
                if not n.isdigit():
                    raise DataDirError(f"{frames_path}: '{utt}' has frame count '{n}', "
                                       "not a number")
                self.num_frames[utt] = int(n)
        self.spec = FeatureSpec.from_info(self.info)
        self.frame_rate = float(self.info["frame_rate"]) if self.info.get("frame_rate") else None
        self.dim = int(self.info.get("dim") or 0)
        if not self.dim and self.utts:
            self.dim = int(self._load(self.utts[0]).shape[-1])

    def __len__(self) -> int:
        return len(self.utts)

    def _load(self, utt: str) -> np.ndarray:
        if utt not in self.table:
            raise DataDirError(f"{self.scp}: no utterance '{utt}'")
        try:
            return kaldiio.load_mat(self.table[utt])
        except Exception as err:  # noqa: BLE001 - a broken ark is the user's data
            raise DataDirError(f"{self.scp}: cannot read '{utt}' ({err})") from None

    def matrix(self, utt: str) -> np.ndarray:
        """The features of ``utt``, ``[frames, dim]`` float32 (a writable copy), checked
        against ``dim`` and ``utt2num_frames``."""
        mat = self._load(utt)
        if mat.ndim != 2 or mat.shape[1] != self.dim:
            raise DataDirError(f"{self.scp}: '{utt}' has shape {mat.shape}, expected "
                               f"[frames, {self.dim}] ({self.path / INFO_FILE}: dim)")
        if utt in self.num_frames and self.num_frames[utt] != len(mat):
            raise DataDirError(f"{self.path / NUM_FRAMES}: '{utt}' has {self.num_frames[utt]} "
                               f"frames, {self.scp} holds {len(mat)}")
        return np.array(mat, dtype=np.float32)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        for utt in self.utts:
            yield utt, self.matrix(utt)


class DumpWriter:
    """Writes the dump of ``spec`` at ``out``, in shards 1..N, then `finish`.

    With ``resume``, a shard finished earlier (``data/.done.JOB``) is kept, and a shard of
    another spec is an error; without, every shard is written again.  ``extra``: further
    ``feats_info.yaml`` entries (e.g. the phone list of posteriorgrams).
    """

    def __init__(self, out: str | Path, spec: FeatureSpec, resume: bool = True, **extra: Any):
        spec.to_info()  # a dump holds fixed features only
        self.out, self.spec, self.resume, self.extra = Path(out), spec, resume, extra

    def shard_paths(self, job: int) -> dict[str, Path]:
        data = self.out / "data"
        return {"ark": data / f"feats.{job}.ark", "scp": data / f"feats.{job}.scp",
                "frames": data / f"{NUM_FRAMES}.{job}", "done": data / f".done.{job}"}

    def done(self, job: int) -> bool:
        """Whether shard ``job`` is finished and kept (only when resuming)."""
        marker = self.shard_paths(job)["done"]
        if not (self.resume and marker.is_file()):
            return False
        info = _load_info(marker)
        if FeatureSpec.from_info(info).to_info() != self.spec.to_info():
            raise UserError(f"{self.out} holds features of another configuration ({marker}: "
                            f"{ {k: info.get(k) for k in SPEC_KEYS} }); choose another output "
                            "directory or remove it")
        return True

    def write_shard(self, job: int, matrices: Iterable[tuple[str, np.ndarray]],
                    frame_rate: float) -> int:
        """Write shard ``job`` from ``(utt, [frames, dim])`` pairs; returns its utterances.
        Every file appears complete or not at all; the ``.done`` marker comes last."""
        paths = self.shard_paths(job)
        paths["done"].unlink(missing_ok=True)
        paths["ark"].parent.mkdir(parents=True, exist_ok=True)
        tmp_ark, tmp_scp = (paths[k].with_name(paths[k].name + ".tmp") for k in ("ark", "scp"))
        num_frames: dict[str, str] = {}
        dim = None
        with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
            for utt, mat in matrices:
                mat = np.asarray(mat, dtype=np.float32)
                if mat.ndim != 2 or (dim is not None and mat.shape[1] != dim):
                    raise ValueError(f"'{utt}': features of shape {mat.shape}, expected "
                                     f"[frames, {dim or 'dim'}]")
                if utt in num_frames:
                    raise ValueError(f"'{utt}' written twice to {self.out}")
                dim = mat.shape[1]
                writer[utt] = mat
                num_frames[utt] = str(len(mat))
        if dim is None:
            dim = 0  # an empty shard (more jobs than utterances)
        # The scp names the temporary ark: point it at the final name, sort, then commit.
        scp = {utt: entry.replace(str(tmp_ark), str(paths["ark"]))
               for utt, entry in read_table(tmp_scp, strict=False).items()}
        tmp_ark.replace(paths["ark"])
        write_table(paths["scp"], scp)
        tmp_scp.unlink()
        write_table(paths["frames"], num_frames)
        info = make_info(self.spec, dim, frame_rate, **self.extra)
        write_text_atomic(paths["done"], yaml.safe_dump(info, sort_keys=False, allow_unicode=True))
        return len(num_frames)

    def finish(self, num_shards: int, source: DataDir | None = None,
               utts: Iterable[str] | None = None) -> int:
        """Merge shards 1..``num_shards`` into ``feats.scp`` / ``utt2num_frames``, copy the
        utterance tables of ``source`` (a data dir) and write ``feats_info.yaml``.

        The dump must hold exactly ``utts`` (default: the utterances of ``source``, when
        given).  Returns the number of utterances."""
        scp, frames, infos = {}, {}, []
        for job in range(1, num_shards + 1):
            paths = self.shard_paths(job)
            if not paths["done"].is_file():
                raise UserError(f"shard {job} did not finish ({paths['done']} missing)")
            infos.append(_load_info(paths["done"]))
            if FeatureSpec.from_info(infos[-1]).to_info() != self.spec.to_info():
                raise UserError(f"{paths['done']}: shard {job} holds features of another "
                                "configuration; remove it and run again")
            scp.update(read_table(paths["scp"]))
            frames.update(read_table(paths["frames"]))
        expected = list(utts) if utts is not None else source.utt_ids() if source else None
        if expected is not None and set(scp) != set(expected):
            missing = sorted(set(expected) - set(scp))
            extra = sorted(set(scp) - set(expected))
            raise DataDirError(f"{self.out}: {len(scp)} utterances written, {len(expected)} "
                               f"expected{' from ' + str(source.path) if source else ''} "
                               f"(missing e.g. {missing[:3]}, unexpected e.g. {extra[:3]})")
        if not scp:
            raise DataDirError(f"{self.out}: no utterances written")
        dims = {int(i["dim"]) for i in infos if i.get("dim")}
        rates = {float(i["frame_rate"]) for i in infos if i.get("dim")}
        if len(dims) != 1 or len(rates) != 1:
            raise UserError(f"{self.out}: the shards hold features of different dims "
                            f"{sorted(dims)} or frame rates {sorted(rates)}")
        info = make_info(self.spec, dims.pop(), rates.pop(), **self.extra)
        (self.out / INFO_FILE).unlink(missing_ok=True)  # incomplete until written again
        if source is not None:
            for name in source.utt_tables():
                if name not in (FEATS_SCP, NUM_FRAMES):
                    shutil.copy2(source.path / name, self.out / name)
            for name in ("spk2utt", "segments"):
                if source.has(name):
                    shutil.copy2(source.path / name, self.out / name)
        write_table(self.out / FEATS_SCP, scp)
        write_table(self.out / NUM_FRAMES, frames)
        write_text_atomic(self.out / INFO_FILE, yaml.safe_dump(info, sort_keys=False,
                                                              allow_unicode=True))
        return len(scp)


def write_dump(out: str | Path, spec: FeatureSpec, matrices: Iterable[tuple[str, np.ndarray]],
               frame_rate: float, source: DataDir | None = None,
               utts: Iterable[str] | None = None, **extra: Any) -> int:
    """Write a whole dump in one shard (overwriting one there); see `DumpWriter.finish`."""
    writer = DumpWriter(out, spec, resume=False, **extra)
    writer.write_shard(1, matrices, frame_rate)
    return writer.finish(1, source, utts)
