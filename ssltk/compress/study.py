"""A compression study (seed 001's cost/accuracy table): named compressions of one source
upstream, their cost measured in one run, and the downstream scores of each beside it.

A compression is given as a *spec*, one shell word each:

=====================  ==============================================================
``none``               the source upstream as it is (the reference row)
``weights:S``          magnitude pruning of the encoder projections to sparsity ``S``
``heads:N``            the ``N`` heads of least L1 weight norm removed
``ffn:F``              a fraction ``F`` of every layer's feed-forward units removed
``skip:T``             skip-ahead: heads with attention diagonality >= ``T`` become identity
``fixed:F@L``          fixed-length subsampling by ``F`` after layer ``L``
``int8`` / ``bf16``    the source computed in int8 (dynamic quantisation) / bfloat16
``upstream:X``         another upstream (hub name or checkpoint), e.g. a distilled student;
                       ``upstream:TAG=X`` names its row TAG
=====================  ==============================================================

Levels count from the original architecture (``heads:8``: 8 heads removed in all), so a
level can start from an earlier level's (continued pre-trained) result: iterative pruning.
`make` writes a compressed upstream as a normal checkpoint (``<dir>/<tag>.pt``) and records
the entry (tag, spec, upstream to load, precision, description) in ``<dir>/upstreams.yaml``;
`record_continued` points an entry at its continued pre-trained upstream;
`measure` adds the cost of every entry: parameters (non-zero ones), multiply-accumulates per
second of audio (dense counts: pruned weights still cost MACs in a dense kernel) and the
median extraction time of the same batch, as a speed-up over the reference (``none``),
timed round-robin so that all entries share the machine's state.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError

MANIFEST = "upstreams.yaml"
_SPEC = re.compile(r"^(none|int8|bf16|weights:[0-9.]+|heads:\d+|ffn:[0-9.]+|skip:[0-9.]+|fixed:\d+@\d+|upstream:.+)$")
_PRECISION = {"int8": "int8", "bf16": "bfloat16"}


@dataclass
class Entry:
    tag: str  # the row's name (and the downstream experiments' <tag>)
    spec: str
    upstream: str  # what hub.load reads: the source, a written checkpoint, or another upstream
    precision: str = "float32"
    description: str = ""


def tag_of(spec: str) -> str:
    """A file- and experiment-name-safe tag: ``weights:0.5`` -> ``weights0.5``,
    ``fixed:2@1`` -> ``fixed2at1``, ``upstream:path/student.pt`` -> ``student``,
    ``upstream:cdm_l2=path/student.pt`` -> ``cdm_l2``."""
    check_spec(spec)
    if spec.startswith("upstream:"):
        tag, path = _named(spec)
        return tag or Path(path).stem
    return spec.replace(":", "").replace("@", "at")


def _named(spec: str) -> tuple[str | None, str]:
    """``upstream:[TAG=]X`` -> ``(TAG or None, X)``."""
    value = spec.split(":", 1)[1]
    tag, sep, path = value.partition("=")
    if sep and re.fullmatch(r"[\w.+-]+", tag):
        return tag, path
    return None, value


def check_spec(spec: str) -> None:
    if not _SPEC.match(spec):
        raise UserError(f"compression spec {spec!r}: expected none, int8, bf16, weights:S, heads:N, "
                        "ffn:F, skip:T, fixed:F@L or upstream:NAME_OR_PATH")


def make(source: str, spec: str, out_dir: str | Path,
         audio: tuple[torch.Tensor, torch.Tensor] | None = None) -> Entry:
    """Apply ``spec`` to ``source`` (hub name or checkpoint); new weights go to
    ``out_dir/<tag>.pt``; the entry is recorded in ``out_dir/upstreams.yaml`` and returned."""
    from ssltk import hub
    from ssltk.compress import compress
    from ssltk.upstream.checkpoint import save_ssltk

    tag, out_dir = tag_of(spec), Path(out_dir)
    method, _, arg = spec.partition(":")
    if spec == "none":
        entry = Entry(tag, spec, source, description="the source upstream")
    elif spec in _PRECISION:
        entry = Entry(tag, spec, source, _PRECISION[spec], f"the source computed in {_PRECISION[spec]}")
    elif method == "upstream":
        path = _named(spec)[1]
        entry = Entry(tag, spec, path, description=f"another upstream: {path}")
    else:
        upstream = hub.load(source)
        if method == "weights":
            compressed, what = compress(upstream, "weights", sparsity=float(arg))
        elif method == "heads":
            cfg = upstream.config
            removed = cfg.num_layers * cfg.num_heads - sum(len(layer.attention.heads)
                                                            for layer in upstream.encoder.layers)
            if int(arg) < removed:
                raise UserError(f"{spec}: {source} has {removed} heads removed already")
            compressed, what = compress(upstream, "heads", heads=int(arg) - removed)
        elif method == "ffn":
            cfg, fraction = upstream.config, float(arg)
            kept = [cfg.ffn_sizes.get(i, cfg.ffn_size) / cfg.ffn_size for i in range(cfg.num_layers)]
            if fraction < 1 - max(kept) - 1e-9:
                raise UserError(f"{spec}: {source} has more than {fraction:.0%} of its units removed")
            now = 1 - (1 - fraction) / max(kept)  # of the units left, to reach `fraction` of the original
            compressed, what = compress(upstream, "ffn", fraction=now)
            what = f"pruned {fraction:.0%} of every layer's FFN units"
        elif method == "skip":
            if audio is None:
                raise UserError(f"{spec}: skip-ahead measures attention maps on audio: give a data dir")
            compressed, what = compress(upstream, "skip_ahead", threshold=float(arg), audio=audio)
        else:  # fixed:F@L
            factor, layer = arg.split("@")
            compressed, what = compress(upstream, "subsample", layer=int(layer), spec=f"fixed:{factor}")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = save_ssltk(compressed, out_dir / f"{tag}.pt")
        entry = Entry(tag, spec, str(path), description=what)
    entries = [e for e in read_manifest(out_dir, missing_ok=True) if e.tag != tag] + [entry]
    _write_manifest(out_dir, entries)
    return entry


def record_continued(out_dir: str | Path, tag: str, upstream: str) -> Entry:
    """Point entry ``tag`` at ``upstream``, its continued pre-trained version."""
    entries = read_manifest(out_dir)
    for e in entries:
        if e.tag == tag:
            e.upstream = upstream
            if "continued pre-training" not in e.description:
                e.description += ", then continued pre-training"
            _write_manifest(Path(out_dir), entries)
            return e
    raise UserError(f"{Path(out_dir) / MANIFEST}: no upstream '{tag}'")


def read_manifest(out_dir: str | Path, missing_ok: bool = False) -> list[Entry]:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        if missing_ok:
            return []
        raise UserError(f"{path}: no such file; make the compressed upstreams first")
    try:
        return [Entry(**item) for item in yaml.safe_load(path.read_text()) or []]
    except (TypeError, yaml.YAMLError) as err:
        raise UserError(f"{path}: not a list of upstream entries ({err})") from None


def _write_manifest(out_dir: Path, entries: list[Entry]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / MANIFEST, yaml.safe_dump([asdict(e) for e in entries], sort_keys=False))


@torch.no_grad()
def measure(entries: list[Entry], wavs: torch.Tensor, wav_lens: torch.Tensor, runs: int = 5,
            reference: str = "none") -> list[dict]:
    """Cost rows (one per entry): ``tag``, ``parameters``, ``nonzero``, ``macs`` (per second of
    audio), ``seconds`` (median extraction time of the batch) and ``speedup`` over the
    ``reference`` entry's median (``None`` without one)."""
    from ssltk import hub
    from ssltk.compress.pruning import count_nonzero
    from ssltk.compress.quantize import autocast, for_inference

    device = torch.device("cpu")
    models, rows = {}, []
    for e in entries:
        upstream = hub.load(e.upstream).eval()
        rows.append({"tag": e.tag, "parameters": sum(p.numel() for p in upstream.parameters()),
                     "nonzero": count_nonzero(upstream), "macs": upstream.macs(upstream.sample_rate)})
        models[e.tag] = (for_inference(upstream, e.precision, device), e.precision)
    times: dict[str, list[float]] = {e.tag: [] for e in entries}
    for _ in range(runs + 1):  # the first round warms up and is not counted
        for tag, (model, precision) in models.items():
            start = time.perf_counter()
            with autocast(precision, device):
                model(wavs, wav_lens)
            times[tag].append(time.perf_counter() - start)
    base = statistics.median(times[reference][1:]) if reference in times else None
    for row in rows:
        row["seconds"] = statistics.median(times[row["tag"]][1:])
        row["speedup"] = base / row["seconds"] if base else None
    return rows
