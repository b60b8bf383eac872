"""Frame-level cluster labels of a data dir: ``text.km`` + ``km_info.yaml``.

`label_dir` writes them with a codebook (``ssltk.bin.kmeans label``), `score_labels`
compares them with a phone alignment (``ssltk.bin.kmeans score``).
``text.km``: ``<utt> <id> <id> ...``, one cluster id per frame at the clustered
features' frame rate (100 Hz for MFCC/fbank, 50 Hz for wav2vec2-style layers), as
fairseq's ``.km`` files.  ``km_info.yaml`` records ``frame_rate``, ``k`` and the source
(upstream, layer, codebook).  A model whose frame rate differs (HuBERT at 50 Hz on
100 Hz MFCC labels) picks its targets with `align_labels`, fairseq's rule.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ssltk.data.ctm import WINDOW_CENTRE, frame_labels, read_ctm
from ssltk.data.datadir import DataDir, DataDirError, read_entries, write_table, write_text_atomic
from ssltk.errors import UserError
from ssltk.metrics.cluster import cluster_scores
from ssltk.pretraining.features import DumpSource, FeatureSource, UpstreamSource
from ssltk.pretraining.kmeans import Codebook, KMeansError

LABELS = "text.km"
INFO = "km_info.yaml"
DURATION_TOL = 0.1  # seconds, as fairseq's hubert_dataset.verify_label_lengths


def write_labels(out_dir: str | os.PathLike, labels: dict[str, np.ndarray], info: dict[str, Any]) -> Path:
    """Write ``out_dir/text.km`` (sorted by id) and ``out_dir/km_info.yaml``."""
    out = Path(out_dir)
    write_table(out / LABELS, {u: " ".join(map(str, np.asarray(v).tolist())) for u, v in labels.items()})
    write_text_atomic(out / INFO, yaml.safe_dump(info, sort_keys=False))
    return out / LABELS


def read_labels(path: str | os.PathLike, k: int | None = None) -> dict[str, np.ndarray]:
    """``{utt: int64 ids}``; ids must be integers in ``[0, k)`` when ``k`` is given."""
    out = {}
    for e in read_entries(path):
        try:
            ids = np.array(e.value.split(), dtype=np.int64)
        except ValueError:
            raise DataDirError(f"{e.where}: cluster ids must be integers") from None
        if len(ids) and (ids.min() < 0 or (k is not None and ids.max() >= k)):
            raise DataDirError(f"{e.where}: cluster id out of range 0..{(k or 0) - 1}")
        out[e.key] = ids
    return out


def read_info(label_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(label_dir) / INFO
    if not path.is_file():
        raise DataDirError(f"{path}: no such file (written by python -m ssltk.bin.kmeans label)")
    info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not info.get("frame_rate"):
        raise DataDirError(f"{path}: no frame_rate")
    return info


def duration_mismatches(labels: dict[str, np.ndarray], label_rate: float,
                        durations: dict[str, float], tol: float = DURATION_TOL) -> list[str]:
    """Utterances whose label duration ``len / label_rate`` differs from the audio's by
    more than ``tol`` seconds (fairseq warns and skips such utterances)."""
    return [f"{u}: {len(v)} labels at {label_rate:g} Hz = {len(v) / label_rate:.3f} s, "
            f"audio {durations[u]:.3f} s" for u, v in labels.items()
            if u in durations and abs(len(v) / label_rate - durations[u]) > tol]


def align_labels(labels: np.ndarray, label_rate: float, num_frames: int,
                 frame_rate: float) -> np.ndarray:
    """Targets for ``num_frames`` model frames at ``frame_rate`` from labels at ``label_rate``.

    fairseq's HuBERT rule: frame ``i`` takes label ``floor(i * label_rate / frame_rate)``,
    and frames past the last label are dropped (the result may be shorter than
    ``num_frames``).  100 Hz labels on a 50 Hz model keep every second label.
    """
    ratio = label_rate / frame_rate
    usable = min(num_frames, int(len(labels) / ratio))
    return np.asarray(labels)[(np.arange(usable) * ratio).astype(np.int64)]


def source_for_codebook(codebook: Codebook, data: str | None = None, feats: str | None = None,
                        device: torch.device | str = "cpu", batch_seconds: float = 100.0
                        ) -> FeatureSource:
    """The frames to label with ``codebook``: a feature dump ``feats`` (checked against the
    codebook's dimension, upstream and layer) or data dir ``data`` run through the
    codebook's own upstream."""
    meta = codebook.meta
    if feats is not None:
        source = DumpSource(feats)
        info_file = source.scp.parent / "feats_info.yaml"
        if source.dim != codebook.dim:
            raise KMeansError(f"{source.scp}: feature dimension {source.dim} does not match the "
                              f"codebook's {codebook.dim} ({meta['path']})")
        for key in ("upstream", "layer"):
            mine, theirs = source.info.get(key), meta.get(key)
            if key == "layer" and (mine is None or theirs is None or mine < 0 or theirs < 0):
                continue  # -1 (the last layer) may name the same state as N
            if mine is not None and theirs is not None and mine != theirs:
                raise UserError(f"{info_file}: {key} {mine!r} but codebook {meta['path']} was fit "
                                f"on {theirs!r}")
        if not source.frame_rate:
            raise UserError(f"{info_file}: no frame_rate; dump the features again with "
                            "python -m ssltk.bin.extract_feats")
        return source
    if not meta.get("upstream"):
        raise UserError(f"{meta['path']}: the codebook names no upstream; label with --feats")
    if meta.get("weights") or meta.get("layer_norm"):
        raise UserError(f"{meta['path']} was fit on a weighted-sum or layer-normed dump "
                        f"({meta.get('feats')}); label dumps of the same kind with --feats")
    source = UpstreamSource(data, meta["upstream"], meta.get("layer"), meta.get("upstream_opts"),
                            device, batch_seconds)
    if source.dim != codebook.dim:
        raise KMeansError(f"{meta['path']}: codebook dimension {codebook.dim} does not match "
                          f"{meta['upstream']} layer {source.layer} ({source.dim})")
    return source


def label_dir(codebook: Codebook, inp: str, out: str | os.PathLike, from_data: bool,
              device: torch.device | str = "cpu", batch_seconds: float = 100.0
              ) -> tuple[dict[str, Any], list[str]]:
    """Label every frame of data dir (``from_data``) or feature dump ``inp`` and write
    ``out/text.km`` + ``out/km_info.yaml``.  Returns the info and, for a data dir with
    ``utt2dur``, the utterances whose labels and audio differ by more than 0.1 s."""
    source = source_for_codebook(codebook, inp if from_data else None,
                                 None if from_data else inp, device, batch_seconds)
    labels = {}
    for utt, feats in source.frames():
        labels[utt] = codebook.predict(feats.to(device), where=f"{inp}: {utt}").cpu().numpy()
        if len(labels[utt]) != len(feats):
            raise KMeansError(f"{inp}: {utt}: {len(labels[utt])} labels for {len(feats)} frames")
    mismatches = []
    if from_data:
        ddir = DataDir(inp)
        expected = ddir.utt_ids()
        if set(labels) != set(expected):
            raise DataDirError(f"{inp}: labelled {len(labels)} of {len(expected)} utterances")
        if ddir.has("utt2dur"):
            durations = {u: float(d) for u, d in ddir.table("utt2dur").items()}
            mismatches = duration_mismatches(labels, source.frame_rate, durations)
    meta = codebook.meta
    info = {"frame_rate": source.frame_rate, "k": codebook.k, "upstream": meta.get("upstream"),
            "layer": meta.get("layer"), "upstream_opts": meta.get("upstream_opts"),
            "frame_offset": meta.get("frame_offset", WINDOW_CENTRE),
            "codebook": str(Path(meta["path"]).resolve()) if meta.get("path") else None,
            "source": str(inp), "num_utts": len(labels),
            "num_frames": int(sum(len(v) for v in labels.values()))}
    write_labels(out, labels, info)
    return info, mismatches


def score_labels(data: str | os.PathLike, label_dir: str | os.PathLike,
                 ctm_name: str = "phones.ctm") -> dict[str, Any]:
    """Phone purity, cluster purity and PNMI (ssltk.metrics.cluster) of
    ``label_dir/text.km`` against ``data/<ctm_name>``, plus PNMI of shuffled labels."""
    info = read_info(label_dir)
    labels_path = Path(label_dir) / LABELS
    labels = read_labels(labels_path, info.get("k"))
    ctm_path = Path(data) / ctm_name
    ctm = read_ctm(ctm_path)
    phones, clusters, unaligned = [], [], 0
    for utt, ids in labels.items():
        if utt not in ctm:
            raise DataDirError(f"{ctm_path}: no alignment for '{utt}' of {labels_path}")
        frames = frame_labels(ctm[utt], len(ids), float(info["frame_rate"]),
                              float(info.get("frame_offset", WINDOW_CENTRE)))
        for phone, cluster in zip(frames, ids.tolist()):
            if phone is None:
                unaligned += 1
            else:
                phones.append(phone)
                clusters.append(cluster)
    if not phones:
        raise DataDirError(f"{ctm_path}: no frame of {labels_path} is aligned")
    scores = cluster_scores(phones, clusters)
    shuffled = np.random.default_rng(0).permutation(np.asarray(clusters))
    return {**scores.as_dict(), "pnmi_shuffled": cluster_scores(phones, shuffled).pnmi,
            "unaligned_frames": unaligned, "num_utts": len(labels), "k": info.get("k"),
            "frame_rate": info["frame_rate"], "labels": str(labels_path), "ctm": str(ctm_path)}
