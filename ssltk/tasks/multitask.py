"""Multi-task fine-tuning of one upstream on several downstream tasks at once (seed 002:
Chen, Yang, Lee, See, Lee, "Speech Representation Learning through Self-supervised
Pretraining and Multi-task Finetuning", 2021).

Every task keeps its own head, featurizer and data (its registered task, `ssltk.tasks`, and
its own config file); they share one upstream that trains with all of them.  Training
cycles through the tasks, one batch of each in turn; the loss of a batch is its task's loss
times the task's weight.  The fine-tuned upstream is then written as an ssltk checkpoint
(``upstream.pt``) that any recipe can use frozen (``--upstream``), to compare with the
upstream before multi-task fine-tuning on each task and on a held-out one.

Config (strict YAML)::

    trainer: {max_steps: 600, optim: {lr: 1.0e-4}, best_metric: valid/loss, best_mode: min}
    frontend: {upstream: ssltk_mini, finetune_upstream: true}   # the shared upstream
    data: {batch_seconds: 8, max_batch: 16}                     # batching of every task
    tasks:
      digit: {task: cls, config: conf/train.yaml, train: data/train, valid: data/dev}
      speaker: {task: cls, config: conf/train.yaml, train: data/train, valid: data/dev,
                overrides: [cls.label_table=utt2spk]}

A task's config file gives its head (its task section) and how its featurizer reads the
shared upstream (``frontend``: featurizer, layer_norm, utterance_mvn, speed_perturb,
spec_augment); its ``upstream``, ``trainer`` and ``data`` sections are not used.
Validation metrics are ``valid/<task>/<metric>`` and ``valid/loss`` (the sum of the tasks'
validation losses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssltk.data.datadir import DataDir
from ssltk.data.loader import DataConfig, make_loader
from ssltk.errors import UserError
from ssltk.tasks.base import RunContext
from ssltk.tasks.config import FrontendConfig
from ssltk.tasks.frontend import build_frontend
from ssltk.tasks.registry import get_task
from ssltk.train import Trainer, seed_everything
from ssltk.train.config import TrainerConfig, config_to_dict, load_config, require
from ssltk.train.distributed import dist_info
from ssltk.train.expdir import ExpDir
from ssltk.train.model import TrainableModel
from ssltk.upstream.checkpoint import save_ssltk

KIND = "multitask"
UPSTREAM_FILE = "upstream.pt"


@dataclass
class SubTaskConfig:
    task: str  # a registered task: cls, asr, cs, ...
    config: str  # that task's config file (head and featurizer)
    train: str  # data dirs
    valid: str
    overrides: list[str] = field(default_factory=list)  # key.path=value for that config
    tokens: str | None = None  # token directory (asr, cs)
    weight: float = 1.0  # of this task's loss

    def __post_init__(self) -> None:
        require(self.weight > 0, "weight", f"must be > 0, got {self.weight}")


@dataclass
class MultiTaskConfig:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tasks: dict[str, SubTaskConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(len(self.tasks) >= 1, "tasks", "name at least one task")
        require(self.frontend.finetune_upstream, "frontend.finetune_upstream",
                "must be true: multi-task fine-tuning trains the shared upstream")
        require(not (self.frontend.peft and self.frontend.peft.methods()), "frontend.peft",
                "is not supported here: the shared upstream is fine-tuned and exported whole")


class MultiTaskModel(TrainableModel):
    """One model per task (each holding the shared upstream); a batch is
    ``{"task": name, "batch": that task's batch}``."""

    def __init__(self, models: dict[str, nn.Module], weights: dict[str, float], upstream: nn.Module):
        super().__init__()
        self.models = nn.ModuleDict(models)
        self.weights = dict(weights)
        self.upstream = upstream  # shared: the same module as in every task's frontend

    def forward(self, batch: dict):
        name = batch["task"]
        loss, stats = self.models[name](batch["batch"])
        return self.weights[name] * loss, {f"{name}/{k}": v for k, v in stats.items()}

    def validation_step(self, batch: dict) -> dict:
        name = batch["task"]
        return {f"{name}/{k}": v for k, v in self.models[name].validation_step(batch["batch"]).items()}

    def validation_metrics(self, totals: dict) -> dict:
        metrics: dict[str, float] = {}
        for name, model in self.models.items():
            mine = {k[len(name) + 1:]: v for k, v in totals.items() if k.startswith(name + "/")}
            if mine:
                metrics.update({f"{name}/{k}": v for k, v in model.validation_metrics(mine).items()})
        losses = [metrics[f"{name}/loss"] for name in self.models if f"{name}/loss" in metrics]
        if losses:
            metrics["loss"] = float(sum(losses))
        return metrics


class RoundRobin:
    """Batches of several loaders in turn (``{"task", "batch"}``), until the longest ends; a
    shorter loader starts again.  ``set_epoch`` reaches every loader's sampler."""

    def __init__(self, loaders: dict[str, Any], cycle: bool = True):
        self.loaders = loaders
        self.cycle = cycle

    def __len__(self) -> int:
        lengths = [len(loader) for loader in self.loaders.values()]
        return len(lengths) * max(lengths) if self.cycle else sum(lengths)

    def set_epoch(self, epoch: int) -> None:
        for loader in self.loaders.values():
            sampler = getattr(loader, "batch_sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)

    def __iter__(self):
        if not self.cycle:  # validation: every batch of every task once
            for name, loader in self.loaders.items():
                for batch in loader:
                    yield {"task": name, "batch": batch}
            return
        rounds = max(len(loader) for loader in self.loaders.values())
        iterators = {name: iter(loader) for name, loader in self.loaders.items()}
        for _ in range(rounds):
            for name, loader in self.loaders.items():
                try:
                    batch = next(iterators[name])
                except StopIteration:
                    iterators[name] = iter(loader)
                    batch = next(iterators[name])
                yield {"task": name, "batch": batch}


def _task_config(name: str, sub: SubTaskConfig):
    task = get_task(sub.task)
    if not Path(sub.config).is_file():
        raise UserError(f"tasks.{name}.config: {sub.config}: no such file")
    return task, load_config(sub.config, task.schema, sub.overrides)


def train(config: str | Path, exp_dir: str | Path, overrides: list[str] = ()) -> dict:
    """Train (or resume) a multi-task run; write the best checkpoint's upstream to
    ``exp_dir/upstream.pt``.  Returns the trainer's results."""
    cfg = load_config(config, MultiTaskConfig, overrides)
    exp = ExpDir(exp_dir)
    resuming = exp.resuming(cfg.trainer)
    shared = build_frontend(cfg.frontend).upstream
    models, weights, train_loaders, valid_loaders, metas = {}, {}, {}, {}, {}
    for name, sub in cfg.tasks.items():
        task, sub_cfg = _task_config(name, sub)
        frontend_cfg = sub_cfg.frontend
        frontend_cfg.upstream, frontend_cfg.finetune_upstream = cfg.frontend.upstream, True
        frontend = build_frontend(frontend_cfg, upstream=shared)
        train_ddir, valid_ddir = DataDir(sub.train), DataDir(sub.valid)
        run = RunContext(ExpDir(exp.path / name), resuming, "audio", float(shared.frame_rate), sub.tokens)
        meta = {"task": task.name, **task.setup(sub_cfg, train_ddir, run)}
        metas[name] = {**meta, "config_file": sub.config, "train": sub.train, "valid": sub.valid}
        seed_everything(cfg.trainer.seed)
        models[name] = task.build_model(frontend, sub_cfg, meta, run.exp, run)
        weights[name] = sub.weight
        common = dict(sample_rate=int(shared.sample_rate), max_batch=cfg.data.max_batch,
                      num_workers=cfg.trainer.num_workers)
        train_loaders[name] = make_loader(train_ddir, "audio", targets=task.targets(sub_cfg, train_ddir, run, meta),
                                          shuffle=True, batch_seconds=cfg.data.batch_seconds,
                                          seed=cfg.trainer.seed, **common)
        valid_loaders[name] = make_loader(valid_ddir, "audio", targets=task.targets(sub_cfg, valid_ddir, run, meta),
                                          shuffle=False, batch_seconds=cfg.data.valid_batch_seconds
                                          or cfg.data.batch_seconds, **common)
    exp.start({"kind": KIND, "config_file": str(config), "tasks": metas,
               "frontend": config_to_dict(cfg.frontend)}, resuming, free=("config_file",))
    model = MultiTaskModel(models, weights, shared)
    results = Trainer(model, RoundRobin(train_loaders), RoundRobin(valid_loaders, cycle=False),
                      cfg, exp.path).fit()
    if dist_info().is_main:
        exp.load_model(model, "best")
        save_ssltk(shared, exp.path / UPSTREAM_FILE, pretraining_heads=False)
    return results
