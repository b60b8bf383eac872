"""Train a downstream task into an experiment directory; decode and score data with it.

Everything task-specific comes from the task (`ssltk.tasks.base.DownstreamTask`, found by
name in `ssltk.tasks.registry`).  Besides the trainer's files (see `ssltk.train.trainer`)
and ``exp.yaml`` (`ssltk.train.expdir`: the task, the input (``audio`` or ``feats``), the
dump's ``feats_info`` (feats), the frozen upstream's fingerprint (audio), the frame rate,
the task's facts such as class labels, and the ``frontend`` and task config sections), an
experiment directory holds

``tokens/``                  a copy of the token directory (tasks with a token list);
``featurizer_weights.txt``   the learned layer weights of the best checkpoint, for
                             ``extract_feats --weights`` (weighted_sum / subset).

Rerunning `train` with the same arguments continues from ``checkpoint.pt`` (or
returns at once when training finished); a rerun whose labels, tokens, features or
model settings differ from the first run's is an error naming what changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
import yaml
from tqdm import tqdm

from ssltk.data.datadir import DataDir, write_json, write_text_atomic
from ssltk.data.dump import INFO_KEYS, check_same, read_info
from ssltk.data.loader import make_loader, sample_rate_of
from ssltk.device import select_device
from ssltk.featurizer import FeatureSpec
from ssltk.errors import UserError
from ssltk.tasks.base import RunContext
from ssltk.tasks.frontend import Frontend, build_frontend, frontend_for_dump
from ssltk.tasks.registry import get_task
from ssltk.train import Trainer, load_config, seed_everything
from ssltk.train.distributed import dist_info
from ssltk.train.expdir import ExpDir, config_sections

KIND = "downstream"
WEIGHTS_FILE = "featurizer_weights.txt"


def _frozen(frontend: Frontend) -> bool:
    return frontend.upstream is not None and not frontend.finetune


def _frame_rate(frontend: Frontend, feats_info: dict | None) -> float:
    if feats_info is not None:
        return float(feats_info["frame_rate"])
    return float(frontend.upstream.frame_rate)


# ---------------------------------------------------------------- training

def train(task_name: str, config: str | Path, train_dir: str | Path, valid_dir: str | Path,
          exp_dir: str | Path, upstream: str | None = None, feats: bool = False,
          tokens: str | Path | None = None, overrides: Iterable[str] = ()) -> dict:
    """Train (or resume) a model of task ``task_name``; returns the trainer's results.

    ``feats``: read precomputed features (``feats.scp``) from ``train_dir`` and
    ``valid_dir``, dump directories of ``ssltk.bin.extract_feats``; the
    ``frontend`` section is then replaced by what the dump holds.
    """
    task = get_task(task_name)
    cfg = load_config(config, task.schema, overrides)
    if upstream is not None:
        cfg.frontend.upstream = str(upstream)
    exp = ExpDir(exp_dir)
    resuming = exp.resuming(cfg.trainer)
    train_ddir, valid_ddir = DataDir(train_dir), DataDir(valid_dir)
    kind = "feats" if feats else "audio"
    meta: dict[str, Any] = {"kind": KIND, "task": task.name, "input": kind, "config_file": str(config)}
    info = None
    if feats:
        info = _training_dump(train_ddir, valid_ddir, upstream)
        meta["feats_info"] = info
        frontend = build_frontend(cfg.frontend, input_dim=int(info["dim"]))
        _describe_dump(cfg.frontend, info)
    else:
        frontend = build_frontend(cfg.frontend)
        if _frozen(frontend):
            meta["upstream_fingerprint"] = frontend.upstream_fingerprint
    meta["frame_rate"] = _frame_rate(frontend, info)
    run = RunContext(exp, resuming, kind, meta["frame_rate"], None if tokens is None else str(tokens))
    meta.update(task.setup(cfg, train_ddir, run))
    # the token directory and a frozen upstream's file may move: their contents are checked;
    # the config file is a record (its sections are compared)
    free = ("config_file", f"{task.section}.tokens",
            *(("frontend.upstream",) if "upstream_fingerprint" in meta else ()))
    exp.start({**meta, **config_sections(cfg, "frontend", task.section)}, resuming, free=free)
    train_targets = task.targets(cfg, train_ddir, run, meta)
    valid_targets = task.targets(cfg, valid_ddir, run, meta)
    seed_everything(cfg.trainer.seed)
    model = task.build_model(frontend, cfg, meta, exp, run)

    common = dict(sample_rate=sample_rate_of(frontend), frame_rate=info and info["frame_rate"],
                  max_batch=cfg.data.max_batch, num_workers=cfg.trainer.num_workers)
    train_loader = make_loader(train_ddir, kind, targets=train_targets, shuffle=True,
                               batch_seconds=cfg.data.batch_seconds, seed=cfg.trainer.seed, **common)
    valid_loader = make_loader(valid_ddir, kind, targets=valid_targets, shuffle=False,
                               batch_seconds=cfg.data.valid_batch_seconds or cfg.data.batch_seconds,
                               **common)
    results = Trainer(model, train_loader, valid_loader, cfg, exp.path).fit()
    if dist_info().is_main:
        _save_featurizer_weights(model, exp)
    return results


def _training_dump(train_ddir: DataDir, valid_ddir: DataDir, upstream: str | None) -> dict:
    """The ``feats_info`` of the training dump, checked against the validation dump."""
    info = read_info(train_ddir.path)
    if upstream is not None and str(upstream) != str(info["upstream"]):
        raise UserError(f"--upstream {upstream}, but the features in {train_ddir.path} come from "
                        f"{info['upstream']} (feats_info.yaml)")
    check_same(info, read_info(valid_ddir.path), str(train_ddir.path), str(valid_ddir.path))
    return {k: info[k] for k in INFO_KEYS}


def _describe_dump(frontend_cfg, info: dict) -> None:
    """Make the saved config's ``frontend`` section say what the dump holds (``upstream: ''``:
    features no upstream computes, such as a diagnostic's)."""
    spec = FeatureSpec.from_info(info)
    frontend_cfg.upstream = spec.upstream or ""
    frontend_cfg.finetune_upstream = False
    frontend_cfg.featurizer = spec.mode
    frontend_cfg.layer = -1 if spec.layer is None else spec.layer
    frontend_cfg.layers = None
    frontend_cfg.layer_norm = spec.layer_norm


def _save_featurizer_weights(model: torch.nn.Module, exp: ExpDir) -> None:
    featurizer = getattr(model.frontend, "featurizer", None)
    if featurizer is None or featurizer.logits is None or not exp.has_best():
        return
    exp.load_model(model, "best")
    featurizer.save_weights(exp / WEIGHTS_FILE)


# ---------------------------------------------------------------- loading and decoding

def load_experiment(exp_dir: str | Path, data_dir: str | Path, checkpoint: str = "best",
                    upstream: str | None = None) -> tuple[torch.nn.Module, str, Any, dict]:
    """The trained model, ready for ``data_dir``: ``(model, input kind, config, exp.yaml)``.

    A model trained on precomputed features reads ``data_dir``'s ``feats.scp``
    (which must hold the same features) or, when there is none, computes them
    from audio with the upstream and layer(s) recorded in the dump's feats_info.
    ``upstream`` replaces the upstream's name/path (a moved checkpoint); a
    frozen upstream must still have the weights it was trained with.
    """
    exp = ExpDir(exp_dir)
    meta = exp.read_meta(KIND)
    task = get_task(meta["task"])
    cfg = load_config(exp / "config.yaml", task.schema)
    ddir = DataDir(data_dir)
    optional: tuple[str, ...] = ()
    if meta["input"] == "feats":
        info = meta["feats_info"]
        if ddir.has("feats.scp"):
            check_same(info, read_info(ddir.path), f"{exp.path} (training features)", str(ddir.path))
            kind, frontend = "feats", build_frontend(cfg.frontend, input_dim=int(info["dim"]))
        else:  # the dump's frontend is not part of a feats-trained model
            kind, optional = "audio", ("frontend.",)
            frontend = frontend_for_dump(dict(info, upstream=upstream or info["upstream"]),
                                         utterance_mvn=cfg.frontend.utterance_mvn)
    else:
        if upstream is not None:
            cfg.frontend.upstream = str(upstream)
        kind, frontend = "audio", build_frontend(cfg.frontend)
        expected = meta.get("upstream_fingerprint")
        if expected and _frozen(frontend) and frontend.upstream_fingerprint != expected:
            raise UserError(f"upstream '{cfg.frontend.upstream}' has other weights than the one "
                            f"{exp.path} was trained with; pass the right one with --upstream")
    model = task.build_model(frontend, cfg, meta, exp)
    exp.load_model(model, checkpoint, optional=optional)
    return model.eval(), kind, cfg, meta


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def infer(exp_dir: str | Path, data_dir: str | Path, out_dir: str | Path, checkpoint: str = "best",
          beam: int | None = None, device: str = "auto", upstream: str | None = None,
          batch_seconds: float | None = None, num_workers: int = 0) -> Path:
    """Decode ``data_dir`` into ``out_dir``: the task's outputs (``predictions``, ``hyp``, ...)
    and ``decode.yaml`` (the settings)."""
    model, kind, cfg, meta = load_experiment(exp_dir, data_dir, checkpoint, upstream)
    task = get_task(meta["task"])
    dev = select_device(device)
    model.to(dev)
    ddir = DataDir(data_dir)
    frame_rate = meta.get("feats_info", {}).get("frame_rate")
    loader = make_loader(ddir, kind, sample_rate=sample_rate_of(model.frontend), frame_rate=frame_rate,
                         batch_seconds=batch_seconds or cfg.data.valid_batch_seconds
                         or cfg.data.batch_seconds,
                         max_batch=cfg.data.max_batch, shuffle=False, num_workers=num_workers)
    beam = task.default_beam(cfg) if beam is None else beam
    if beam < 1:
        raise UserError(f"--beam must be >= 1, got {beam}")
    outputs: dict[str, dict[str, Any]] = {}
    with torch.no_grad():
        for batch in tqdm(loader, desc="decode", mininterval=5, leave=False):
            batch = _to_device(batch, dev)
            for name, values in task.decode(model, batch, beam).items():
                outputs.setdefault(name, {}).update(zip(batch["utts"], values))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task.write_outputs(out, outputs, meta)
    settings = {"exp": str(exp_dir), "data": str(data_dir), "checkpoint": str(checkpoint),
                "input": kind, "utterances": len(next(iter(outputs.values()), {})), "beam": beam}
    write_text_atomic(out / "decode.yaml", yaml.safe_dump(settings, sort_keys=False))
    return out


# ---------------------------------------------------------------- scoring

def score(task_name: str, ref: str | Path, hyp: str | Path, out: str | Path,
          options: dict[str, Any] | None = None) -> dict:
    """Score ``hyp`` against ``ref``: the report goes to ``out``, the numbers to
    ``out`` with ``.json`` (returned)."""
    task = get_task(task_name)
    text, numbers = task.score(Path(ref), Path(hyp), {k: v for k, v in (options or {}).items()
                                                     if v is not None})
    out = Path(out)
    write_text_atomic(out, text)
    numbers = {"task": task.name, "ref": str(ref), "hyp": str(hyp), **numbers}
    write_json(out.with_suffix(".json"), numbers)
    return numbers


def score_decoded(exp_dir: str | Path, data_dir: str | Path, decode_dir: str | Path,
                  out: str | Path, options: dict[str, Any] | None = None) -> dict:
    """Score a decode directory of ``exp_dir`` against the references in ``data_dir``: the
    task says which tables (``options`` override what it chooses)."""
    exp = ExpDir(exp_dir)
    meta = exp.read_meta(KIND)
    task = get_task(meta["task"])
    cfg = load_config(exp / "config.yaml", task.schema)
    ref, hyp, chosen = task.score_inputs(cfg, meta, exp, Path(data_dir), Path(decode_dir))
    chosen.update({k: v for k, v in (options or {}).items() if v is not None})
    return score(task.name, ref, hyp, out, chosen)
