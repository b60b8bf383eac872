"""Train a task model into an experiment directory; load it back and decode data with it.

Besides the trainer's files (``checkpoint.pt``, ``valid.<metric>.best.pth``,
``config.yaml``, ``results.json``, ``train.log``; see `ssltk.train.trainer`), an
experiment directory holds

``task.yaml``                the task, the input (``audio`` or ``feats``), the dump's
                             ``feats_info`` (feats), the class labels (cls), the
                             frozen upstream's fingerprint (audio);
``tokens/``                  a copy of the token directory (asr; cls with a CTC task);
``featurizer_weights.txt``   the learned layer weights of the best checkpoint, for
                             ``extract_feats --weights`` (weighted_sum / subset).

Rerunning `train` with the same arguments continues from ``checkpoint.pt`` (or
returns at once when training finished); a rerun whose labels, tokens or
features differ from the first run's is an error.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable

import torch
import yaml
from tqdm import tqdm

from ssltk.data.datadir import DataDir, sort_key, write_table, write_text_atomic
from ssltk.device import select_device
from ssltk.errors import UserError
from ssltk.tasks.asr import CTCModel
from ssltk.tasks.classification import ClassificationModel
from ssltk.tasks.config import SCHEMAS
from ssltk.tasks.data import (DUMP_KEYS, check_same_dump, encode_labels, encode_texts, lookup,
                              make_loader, read_feats_info, sample_rate_of)
from ssltk.tasks.frontend import (Frontend, build_frontend, frontend_for_dump, upstream_fingerprint)
from ssltk.text import load_token_dir
from ssltk.train import Trainer, load_config, seed_everything
from ssltk.train.checkpoint import load_checkpoint
from ssltk.train.distributed import dist_info

TASK_FILE = "task.yaml"
TOKENS_DIR = "tokens"
WEIGHTS_FILE = "featurizer_weights.txt"


def _schema(task: str):
    if task not in SCHEMAS:
        raise UserError(f"unknown task '{task}' (expected one of {', '.join(SCHEMAS)})")
    return SCHEMAS[task]


def _frozen(frontend: Frontend) -> bool:
    return frontend.upstream is not None and not frontend.finetune


# ---------------------------------------------------------------- training

def train(task: str, config: str | Path, train_dir: str | Path, valid_dir: str | Path,
          exp_dir: str | Path, upstream: str | None = None, feats: bool = False,
          tokens: str | Path | None = None, overrides: Iterable[str] = ()) -> dict:
    """Train (or resume) a ``task`` model; returns the trainer's results.

    ``feats``: read precomputed features (``feats.scp``) from ``train_dir`` and
    ``valid_dir``, dump directories of ``ssltk.bin.extract_feats``; the
    ``frontend`` section is then replaced by what the dump holds.
    """
    cfg = load_config(config, _schema(task), overrides)
    if upstream is not None:
        cfg.frontend.upstream = str(upstream)
    exp = Path(exp_dir)
    resuming = (exp / "checkpoint.pt").exists() and cfg.trainer.resume
    train_ddir, valid_ddir = DataDir(train_dir), DataDir(valid_dir)
    kind = "feats" if feats else "audio"
    meta: dict[str, Any] = {"task": task, "input": kind}
    frame_rate = None
    if feats:
        info = _training_dump(train_ddir, valid_ddir, upstream)
        meta["feats_info"] = info
        frame_rate = float(info["frame_rate"])
        frontend = build_frontend(cfg.frontend, input_dim=int(info["dim"]))
        _describe_dump(cfg.frontend, info)
    else:
        frontend = build_frontend(cfg.frontend)
        if _frozen(frontend):
            meta["upstream_fingerprint"] = upstream_fingerprint(frontend.upstream)

    if task == "cls":
        table = cfg.cls.label_table
        train_labels = lookup(train_ddir, kind, table)
        labels = sorted(set(train_labels.values()), key=sort_key)
        if len(labels) < 2:
            raise UserError(f"{train_ddir.path / table}: classification needs at least 2 labels, "
                            f"found {labels}")
        meta["labels"] = labels
        _check_meta(exp, meta, resuming)
        train_targets = encode_labels(train_labels, labels, train_ddir.path / table)
        valid_targets = encode_labels(lookup(valid_ddir, kind, table), labels, valid_ddir.path / table)
        tokenizer = None
        if cfg.cls.ctc_weight > 0:  # multi-task: (label, transcript) targets
            tokenizer = _tokenizer(cfg.cls, tokens, exp, resuming, "cls.ctc_weight > 0")
            train_targets = _zip_targets(train_targets, encode_texts(train_ddir, kind, tokenizer, False))
            valid_targets = _zip_targets(valid_targets, encode_texts(valid_ddir, kind, tokenizer, False))
        seed_everything(cfg.trainer.seed)
        model = ClassificationModel(frontend, labels, cfg.cls, tokenizer)
    else:
        _check_meta(exp, meta, resuming)
        tokenizer = _tokenizer(cfg.asr, tokens, exp, resuming, task)
        train_targets = encode_texts(train_ddir, kind, tokenizer, cfg.asr.allow_unk)
        valid_targets = encode_texts(valid_ddir, kind, tokenizer, cfg.asr.allow_unk)
        seed_everything(cfg.trainer.seed)
        model = CTCModel(frontend, tokenizer, cfg.asr)
    if dist_info().is_main:
        exp.mkdir(parents=True, exist_ok=True)
        write_text_atomic(exp / TASK_FILE, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))

    common = dict(sample_rate=sample_rate_of(frontend), frame_rate=frame_rate,
                  max_batch=cfg.data.max_batch, num_workers=cfg.trainer.num_workers)
    train_loader = make_loader(train_ddir, kind, targets=train_targets, shuffle=True,
                               batch_seconds=cfg.data.batch_seconds, seed=cfg.trainer.seed, **common)
    valid_loader = make_loader(valid_ddir, kind, targets=valid_targets, shuffle=False,
                               batch_seconds=cfg.data.valid_batch_seconds or cfg.data.batch_seconds,
                               **common)
    trainer = Trainer(model, train_loader, valid_loader, cfg, exp)
    results = trainer.fit()
    if dist_info().is_main:
        _save_featurizer_weights(model, exp, results, trainer.best_path)
    return results



def _training_dump(train_ddir: DataDir, valid_ddir: DataDir, upstream: str | None) -> dict:
    """The ``feats_info`` of the training dump, checked against the validation dump."""
    info = read_feats_info(train_ddir)
    if upstream is not None and str(upstream) != str(info["upstream"]):
        raise UserError(f"--upstream {upstream}, but the features in {train_ddir.path} come from "
                        f"{info['upstream']} (feats_info.yaml)")
    check_same_dump(info, read_feats_info(valid_ddir), str(train_ddir.path), str(valid_ddir.path))
    return {k: info[k] for k in (*DUMP_KEYS, "frame_rate")}


def _describe_dump(frontend_cfg, info: dict) -> None:
    """Make the saved config's ``frontend`` section say what the dump holds."""
    frontend_cfg.upstream = str(info["upstream"])
    frontend_cfg.finetune_upstream = False
    frontend_cfg.featurizer = "weighted_sum" if info.get("weights") else "layer"
    frontend_cfg.layer = -1 if info.get("layer") is None else int(info["layer"])
    frontend_cfg.layers = None
    frontend_cfg.layer_norm = bool(info.get("layer_norm"))


def _check_meta(exp: Path, meta: dict, resuming: bool) -> None:
    """A resumed run must train the same thing as the run that wrote the checkpoint."""
    path = exp / TASK_FILE
    if not (resuming and path.is_file()):
        return
    old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    diff = [k for k in sorted(set(old) | set(meta)) if old.get(k) != meta.get(k)]
    if diff:
        raise UserError(f"{exp} holds a run with another {', '.join(diff)} (see {path}); "
                        "use a new --exp, or remove the old one")


def _tokenizer(section, tokens: str | Path | None, exp: Path, resuming: bool, who: str):
    """The token directory of ``section.tokens`` (``tokens`` overrides), copied into ``exp``."""
    if tokens is not None:
        section.tokens = str(tokens)
    if not section.tokens:
        raise UserError(f"{who} needs a token directory: pass --tokens DIR (made by "
                        "python -m ssltk.bin.tokens) or set tokens in the config")
    tokenizer = load_token_dir(section.tokens)
    _copy_tokens(Path(section.tokens), exp / TOKENS_DIR, resuming)
    return tokenizer


def _zip_targets(labels: dict[str, int], texts: dict[str, list[int]]) -> dict[str, tuple]:
    return {utt: (label, texts[utt]) for utt, label in labels.items()}


def _copy_tokens(src: Path, dst: Path, resuming: bool) -> None:
    """Copy the token directory into the experiment (a resumed run must use the same list)."""
    if resuming and (dst / "tokens.txt").is_file():
        if (dst / "tokens.txt").read_bytes() != (src / "tokens.txt").read_bytes():
            raise UserError(f"{src / 'tokens.txt'} differs from the token list this experiment was "
                            f"trained with ({dst / 'tokens.txt'}); use a new --exp")
        return
    if dist_info().is_main and src.resolve() != dst.resolve():
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)


def _save_featurizer_weights(model: torch.nn.Module, exp: Path, results: dict, best: Path) -> None:
    featurizer = getattr(model.frontend, "featurizer", None)
    if featurizer is None or featurizer.logits is None or not best.is_file():
        return
    if results.get("best_checkpoint") is None:
        return
    model.load_state_dict(load_checkpoint(best))
    featurizer.save_weights(exp / WEIGHTS_FILE)


# ---------------------------------------------------------------- loading and decoding

def read_task_file(exp: Path) -> dict:
    path = exp / TASK_FILE
    if not path.is_file():
        raise UserError(f"{exp}: not a trained experiment ({TASK_FILE} missing; train with "
                        "python -m ssltk.bin.train)")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def checkpoint_path(exp: Path, checkpoint: str) -> Path:
    """``best`` | ``last`` | ``ave`` | an epoch number | a path -> a weights file."""
    if checkpoint == "best":
        import json

        results = exp / "results.json"
        name = json.loads(results.read_text())["best_checkpoint"] if results.is_file() else None
        if not name:
            raise UserError(f"{exp}: no best checkpoint yet (no finished validation in {results})")
        return exp / name
    if checkpoint == "last":
        return exp / "checkpoint.pt"
    if checkpoint == "ave":
        found = sorted(exp.glob("*.ave_*best.pth"))
        if not found:
            raise UserError(f"{exp}: no averaged checkpoint (set trainer.average_nbest: true)")
        return found[0]
    if checkpoint.isdigit():
        return exp / f"{checkpoint}epoch.pth"
    return Path(checkpoint)


def _weights(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found")
    state = load_checkpoint(path)
    return state["model"] if "model" in state and "optimizers" in state else state


def load_experiment(exp_dir: str | Path, data_dir: str | Path, checkpoint: str = "best",
                    upstream: str | None = None) -> tuple[torch.nn.Module, str, Any, dict]:
    """The trained model, ready for ``data_dir``: ``(model, input kind, config, task.yaml)``.

    A model trained on precomputed features reads ``data_dir``'s ``feats.scp``
    (which must hold the same features) or, when there is none, computes them
    from audio with the upstream and layer(s) recorded in the dump's feats_info.
    ``upstream`` replaces the upstream's name/path (a moved checkpoint); a
    frozen upstream must still have the weights it was trained with.
    """
    exp = Path(exp_dir)
    meta = read_task_file(exp)
    cfg = load_config(exp / "config.yaml", _schema(meta.get("task", "")))
    ddir = DataDir(data_dir)
    strict = True
    if meta["input"] == "feats":
        info = meta["feats_info"]
        if ddir.has("feats.scp"):
            check_same_dump(info, read_feats_info(ddir), f"{exp} (training features)", str(ddir.path))
            kind, frontend = "feats", build_frontend(cfg.frontend, input_dim=int(info["dim"]))
        else:
            kind, strict = "audio", False
            frontend = frontend_for_dump(dict(info, upstream=upstream or info["upstream"]))
    else:
        if upstream is not None:
            cfg.frontend.upstream = str(upstream)
        kind, frontend = "audio", build_frontend(cfg.frontend)
        expected = meta.get("upstream_fingerprint")
        if expected and _frozen(frontend) and upstream_fingerprint(frontend.upstream) != expected:
            raise UserError(f"upstream '{cfg.frontend.upstream}' has other weights than the one "
                            f"{exp} was trained with; pass the right one with --upstream")
    if meta["task"] == "cls":
        tokenizer = load_token_dir(exp / TOKENS_DIR) if cfg.cls.ctc_weight > 0 else None
        model = ClassificationModel(frontend, meta["labels"], cfg.cls, tokenizer)
    else:
        model = CTCModel(frontend, load_token_dir(exp / TOKENS_DIR), cfg.asr)
    state = _weights(checkpoint_path(exp, checkpoint))
    result = model.load_state_dict(state, strict=strict)
    if not strict:  # the dump's frontend is not part of a feats-trained model
        bad = [k for k in result.missing_keys if not k.startswith("frontend.")] + result.unexpected_keys
        if bad:
            raise UserError(f"{checkpoint} does not fit the model: {', '.join(bad[:5])}")
    return model.eval(), kind, cfg, meta


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def infer(exp_dir: str | Path, data_dir: str | Path, out_dir: str | Path, checkpoint: str = "best",
          beam: int | None = None, device: str = "auto", upstream: str | None = None,
          batch_seconds: float | None = None, num_workers: int = 0) -> Path:
    """Decode ``data_dir``: ``out/predictions`` (cls) or ``out/hyp`` + ``out/hyp.token`` (asr)."""
    model, kind, cfg, meta = load_experiment(exp_dir, data_dir, checkpoint, upstream)
    dev = select_device(device)
    model.to(dev)
    ddir = DataDir(data_dir)
    frame_rate = meta.get("feats_info", {}).get("frame_rate")
    loader = make_loader(ddir, kind, sample_rate=sample_rate_of(model.frontend), frame_rate=frame_rate,
                         batch_seconds=batch_seconds or cfg.data.valid_batch_seconds
                         or cfg.data.batch_seconds,
                         max_batch=cfg.data.max_batch, shuffle=False, num_workers=num_workers)
    is_asr = meta["task"] != "cls"
    beam = (cfg.asr.beam_size if is_asr else 1) if beam is None else beam
    if beam < 1:
        raise UserError(f"--beam must be >= 1, got {beam}")
    outputs, tokens = {}, {}
    with torch.no_grad():
        for batch in tqdm(loader, desc="decode", mininterval=5, leave=False):
            batch = _to_device(batch, dev)
            if is_asr:
                for utt, ids in zip(batch["utts"], model.decode_batch(batch, beam)):
                    outputs[utt] = model.tokenizer.decode(ids)
                    tokens[utt] = " ".join(model.tokenizer.token_list.decode(ids))
            else:
                outputs.update(zip(batch["utts"], model.predict(batch)))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_asr:
        write_table(out / "hyp", outputs)
        write_table(out / "hyp.token", tokens)
    else:
        write_table(out / "predictions", outputs)
    settings = {"exp": str(exp_dir), "data": str(data_dir), "checkpoint": str(checkpoint),
                "input": kind, "utterances": len(outputs)}
    if is_asr:
        settings["beam"] = beam
    write_text_atomic(out / "decode.yaml", yaml.safe_dump(settings, sort_keys=False))
    return out
